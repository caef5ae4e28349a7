"""What running LLaMA, Whisper, mamba-minimal and DiT (tests/trainer/examples/test_transformer_era.py) needed fixed.

- Whisper's ``sinusoids`` multiplies a NumPy float64 by a tensor: PyTorch's Tensor sets ``__array_priority__`` so that
  NumPy hands the operation to the tensor (a Tensor of the tensor's dtype, the NumPy scalar counting as a Python
  number); without it NumPy converted the tensor and returned an ndarray.
- DiT's ``unpatchify`` calls ``x.reshape(shape=(...))``.
"""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


@pytest.mark.parametrize("scalar", [np.float64(-0.5), np.float32(3.0), np.int64(2)])
@pytest.mark.parametrize("op", ["mul", "add", "sub", "truediv"])
def test_numpy_scalar_on_the_left_gives_a_tensor_like_torch(scalar, op):
    def fn(lib, a):
        left = {"mul": scalar * a, "add": scalar + a, "sub": scalar - a, "truediv": scalar / (a + 4)}[op]
        assert isinstance(left, lib.Tensor), f"{type(scalar).__name__} {op} Tensor gave {type(left).__name__}"
        return left

    assert_forward_and_gradients_match_torch(fn, [np.random.default_rng(0).standard_normal((3, 4))])
    assert (scalar * trainer.arange(3)).dtype.name == str((scalar * torch.arange(3)).dtype).removeprefix("torch.")


def test_numpy_scalar_times_int_tensor_keeps_default_float_like_torch():
    ours = np.log(10000) / 7 * trainer.arange(4)
    theirs = np.log(10000) / 7 * torch.arange(4)
    assert ours.dtype == trainer.float32 and theirs.dtype == torch.float32
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6)


def test_an_ndarray_on_either_side_gives_a_tensor():
    # PyTorch computes tensor + ndarray (through NumPy) but raises for ndarray + tensor; trainer computes both
    for result in (np.ones(3) + trainer.ones(3), trainer.ones(3) + np.ones(3)):
        assert isinstance(result, trainer.Tensor) and result.dtype == trainer.float64
        np.testing.assert_array_equal(result.numpy(), np.full(3, 2.0))


def test_reshape_with_shape_keyword():
    assert_forward_and_gradients_match_torch(lambda lib, a: a.reshape(shape=(2, 3, 2)).permute(2, 0, 1),
                                             [np.arange(12.0).reshape(3, 4)])


def test_reshape_with_sizes_and_shape_keyword_raises():
    assert_raises_like_torch(lambda lib: lib.ones(6).reshape(2, shape=(3,)), TypeError, "sizes either positionally")
    assert_raises_like_torch(lambda lib: lib.ones(6).reshape(size=(2, 3)), TypeError, "keywords \\['size'\\]")
