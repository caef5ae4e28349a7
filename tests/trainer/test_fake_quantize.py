"""``fake_quantize_per_tensor_affine`` and ``fake_quantize_per_channel_affine`` against PyTorch: the same values (ties
at .5 rounding to even, values outside the range, NaN and infinities, every floating dtype) and the same
straight-through gradients, plus PyTorch's errors for bad arguments."""

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_forward_and_gradients_match_torch, assert_raises_like_torch


def _per_tensor_data(scale, zero_point, rng):
    """Random values, exact ties of the grid (k + 0.5) * scale, and values far outside the range."""
    ties = (np.arange(-140, 140) + 0.5) * scale - zero_point * scale
    return np.concatenate([rng.standard_normal(200) * 40 * scale, ties, [1e6, -1e6, 0.0]])


@pytest.mark.parametrize(("scale", "zero_point", "quant_min", "quant_max"),
                         [(0.5, 3, 0, 255), (0.1, 0, -128, 127), (0.037, 64, 0, 127), (0.25, -5, -64, 63)])
def test_per_tensor_values_and_gradients_match_torch(scale, zero_point, quant_min, quant_max):
    x = _per_tensor_data(scale, zero_point, np.random.default_rng(0))
    assert_forward_and_gradients_match_torch(
        lambda lib, t: lib.fake_quantize_per_tensor_affine(t, scale, zero_point, quant_min, quant_max), [x])


def test_per_tensor_with_tensor_qparams_matches_torch():
    x = _per_tensor_data(0.2, 7, np.random.default_rng(1))

    def fn(lib, t):
        scale, zero_point = lib.tensor([0.2]), lib.tensor([7], dtype=lib.int32)
        return lib.fake_quantize_per_tensor_affine(t, scale, zero_point, 0, 255)

    assert_forward_and_gradients_match_torch(fn, [x])


def test_ties_round_half_to_even():
    x = trainer.tensor([0.25, 0.75, 1.25, -0.25, -0.75], dtype=trainer.float64)
    out = trainer.fake_quantize_per_tensor_affine(x, 0.5, 0, -128, 127)
    assert out.tolist() == [0.0, 1.0, 1.0, -0.0, -1.0]


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_per_tensor_lower_precision_inputs_match_torch_bit_for_bit(dtype):
    rng = np.random.default_rng(2)
    for scale, zero_point in [(0.1, 3), (0.0173, 128), (1.7, 0)]:
        x = np.concatenate([_per_tensor_data(scale, zero_point, rng), [np.nan, np.inf, -np.inf]])
        theirs = torch.fake_quantize_per_tensor_affine(torch.tensor(x).to(getattr(torch, dtype)), scale, zero_point,
                                                       0, 255)
        ours = trainer.fake_quantize_per_tensor_affine(trainer.tensor(x).to(getattr(trainer, dtype)), scale,
                                                       zero_point, 0, 255)
        assert ours.dtype == getattr(trainer, dtype)
        np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_nan_and_infinities_land_where_torch_puts_them():
    x = np.array([np.nan, np.inf, -np.inf, 2.0])
    theirs = torch.fake_quantize_per_tensor_affine(torch.tensor(x), 0.5, 3, 0, 255)
    ours = trainer.fake_quantize_per_tensor_affine(trainer.tensor(x), 0.5, 3, 0, 255)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert ours.tolist() == [-1.5, 126.0, -1.5, 2.0]


@pytest.mark.parametrize(("shape", "axis"), [((4, 3, 2, 2), 0), ((2, 5, 3), 1), ((3, 4), 1), ((6,), 0)])
def test_per_channel_values_and_gradients_match_torch(shape, axis):
    rng = np.random.default_rng(3)
    channels = shape[axis]
    scale = rng.uniform(0.01, 0.2, channels).astype(np.float32)
    zero_point = rng.integers(-20, 20, channels).astype(np.int32)
    x = rng.standard_normal(shape) * 6
    # some exact ties on each channel's own grid
    flat = np.moveaxis(x, axis, 0).reshape(channels, -1)
    flat[:, 0] = (np.arange(channels) + 0.5) * scale
    x = np.moveaxis(flat.reshape(np.moveaxis(x, axis, 0).shape), 0, axis).copy()

    def fn(lib, t):
        return lib.fake_quantize_per_channel_affine(t, lib.tensor(scale), lib.tensor(zero_point), axis, -128, 127)

    assert_forward_and_gradients_match_torch(fn, [x])


@pytest.mark.parametrize("dtype", ["float32", "float16", "bfloat16"])
def test_per_channel_lower_precision_and_float_zero_points_match_torch(dtype):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((3, 4, 5)) * 3
    scale = rng.uniform(0.01, 0.3, 4).astype(np.float32)
    for zero_point in [rng.integers(0, 256, 4).astype(np.int32), rng.uniform(0, 255, 4).astype(np.float32)]:
        theirs = torch.fake_quantize_per_channel_affine(torch.tensor(x).to(getattr(torch, dtype)),
                                                        torch.tensor(scale), torch.tensor(zero_point), 1, 0, 255)
        ours = trainer.fake_quantize_per_channel_affine(trainer.tensor(x).to(getattr(trainer, dtype)),
                                                        trainer.tensor(scale), trainer.tensor(zero_point), 1, 0, 255)
        np.testing.assert_array_equal(ours.float().numpy(), theirs.float().numpy())


def test_gradient_is_zero_outside_the_range_and_one_inside():
    x = trainer.tensor([-10.0, -0.3, 0.0, 0.4, 10.0], dtype=trainer.float64, requires_grad=True)
    trainer.fake_quantize_per_tensor_affine(x, 0.1, 0, -5, 5).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


_X = np.linspace(-2, 2, 12).reshape(3, 4)
_SCALES, _POINTS = np.array([0.1, 0.2, 0.3], np.float32), np.array([0, 1, 2], np.int32)


def _per_channel(lib, scale=_SCALES, zero_point=_POINTS, axis=0, quant_min=-128, quant_max=127, x=_X):
    return lib.fake_quantize_per_channel_affine(lib.tensor(x), lib.tensor(scale), lib.tensor(zero_point), axis,
                                                quant_min, quant_max)


@pytest.mark.parametrize(("call", "error", "message"), [
    (lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor(_X), 0.5, 3, 10, 5), RuntimeError,
     "quant_min` should be less than or equal to `quant_max"),
    (lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor(_X), 0.5, 300, 0, 255), RuntimeError,
     "`zero_point` must be between `quant_min` and `quant_max`"),
    (lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor([1, 2]), 0.5, 3, 0, 255), NotImplementedError,
     "not implemented for 'Long'"),
    (lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor(_X), lib.tensor([0.5, 1.0]), lib.tensor([3, 3]), 0,
                                                     255), RuntimeError, "2 elements cannot be converted to Scalar"),
    (lambda lib: lib.fake_quantize_per_tensor_affine(lib.tensor(_X), lib.tensor([0.5]), 3, 0, 255), TypeError,
     "invalid combination of arguments"),
    (lambda lib: _per_channel(lib, scale=_SCALES.astype(np.float64)), RuntimeError, "Scale must be Float"),
    (lambda lib: _per_channel(lib, zero_point=_POINTS.astype(np.int64)), RuntimeError,
     "Zero-point must be Int32, Float or Half, found Long"),
    (lambda lib: _per_channel(lib, scale=_SCALES[None]), RuntimeError, "scale should be a 1-D tensor"),
    (lambda lib: _per_channel(lib, zero_point=_POINTS[None]), RuntimeError, "zero point should be a 1-D tensor"),
    (lambda lib: _per_channel(lib, zero_point=_POINTS[:2]), RuntimeError,
     "scale and zero-point need to have the same dimensions"),
    (lambda lib: _per_channel(lib, axis=1), RuntimeError, "not consistent with input tensor"),
    (lambda lib: _per_channel(lib, axis=2), IndexError, "Dimension out of range"),
    (lambda lib: _per_channel(lib, axis=-1, x=np.ones((3, 3))), RuntimeError, "`axis` must be between 0 and"),
    (lambda lib: _per_channel(lib, quant_min=5, quant_max=1), RuntimeError, "should be less than or equal"),
    (lambda lib: _per_channel(lib, quant_min=0, quant_max=255, zero_point=np.array([0, -1, 2], np.int32)),
     RuntimeError, "`zero_point` must be between"),
    (lambda lib: _per_channel(lib, x=np.ones((3, 4), np.int32)), NotImplementedError, "not implemented for 'Int'"),
    (lambda lib: _per_channel(lib, x=np.float64(1.0), scale=_SCALES[:1], zero_point=_POINTS[:1]), IndexError,
     "tensor has no dimensions"),
])
def test_bad_arguments_raise_like_torch(call, error, message):
    assert_raises_like_torch(call, error, message)
