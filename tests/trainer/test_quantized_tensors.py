"""Quantized tensors against PyTorch: ``quantize_per_tensor``/``quantize_per_channel`` give the same integers (fbgemm's
fused multiply-add per tensor, ATen's ``quantize_val`` per channel, round half to even, clamped), ``dequantize``
the same float32 values, the accessors the same qparams, printing the same text, and bad arguments and ops without
a quantized kernel the same exception types."""

import warnings

import numpy as np
import pytest
import torch

import trainer
from tests.trainer.test_ops_parity import assert_raises_like_torch

_DTYPES = [("quint8", -40, 40), ("qint8", -20, 20), ("qint32", -1000, 1000)]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PyTorch's deprecation warning for quantized tensors
        yield


def _zero_point(name, rng, low, high):
    return int(rng.integers(0 if name == "quint8" else low, high))


@pytest.mark.parametrize(("name", "low", "high"), _DTYPES)
def test_quantize_per_tensor_matches_torch(name, low, high):
    rng = np.random.default_rng(0)
    for size in (1, 7, 64, 301):
        x = (rng.standard_normal(size) * rng.uniform(0.1, 100)).astype(np.float32)
        x[: size // 3] = np.round(x[: size // 3] * 2) / 2  # exact halves: round half to even
        scale, zero_point = float(rng.uniform(1e-3, 1)), _zero_point(name, rng, low, high)
        expected = torch.quantize_per_tensor(torch.tensor(x), scale, zero_point, getattr(torch, name))
        got = trainer.quantize_per_tensor(trainer.tensor(x), scale, zero_point, getattr(trainer, name))
        assert got.dtype is getattr(trainer, name) and got.is_quantized and got.qscheme() is trainer.per_tensor_affine
        np.testing.assert_array_equal(got.int_repr().numpy(), expected.int_repr().numpy())
        assert got.int_repr().dtype.name == str(expected.int_repr().dtype).removeprefix("torch.")
        np.testing.assert_array_equal(got.dequantize().numpy(), expected.dequantize().numpy())
        assert got.q_scale() == expected.q_scale() and got.q_zero_point() == expected.q_zero_point()
        np.testing.assert_array_equal(trainer.dequantize(got).numpy(), torch.dequantize(expected).numpy())


@pytest.mark.parametrize(("name", "low", "high"), _DTYPES)
def test_quantize_per_channel_matches_torch(name, low, high):
    rng = np.random.default_rng(1)
    for axis in (0, 1, 2):
        x = (rng.standard_normal((3, 4, 5)) * 20).astype(np.float32)
        channels = x.shape[axis]
        scales = rng.uniform(1e-3, 1, channels)
        points = np.array([_zero_point(name, rng, low, high) for _ in range(channels)])
        expected = torch.quantize_per_channel(torch.tensor(x), torch.tensor(scales), torch.tensor(points), axis,
                                              getattr(torch, name))
        got = trainer.quantize_per_channel(trainer.tensor(x), trainer.tensor(scales), trainer.tensor(points), axis,
                                           getattr(trainer, name))
        assert got.qscheme() is trainer.per_channel_affine and got.q_per_channel_axis() == axis
        np.testing.assert_array_equal(got.int_repr().numpy(), expected.int_repr().numpy())
        np.testing.assert_array_equal(got.dequantize().numpy(), expected.dequantize().numpy())
        np.testing.assert_array_equal(got.q_per_channel_scales().numpy(), expected.q_per_channel_scales().numpy())
        np.testing.assert_array_equal(got.q_per_channel_zero_points().numpy(),
                                      expected.q_per_channel_zero_points().numpy())
        assert got.q_per_channel_scales().dtype is trainer.float64
        assert got.q_per_channel_zero_points().dtype is trainer.int64


def test_printing_matches_torch():
    x = np.array([[0.5, 1.5, -2.5], [3.0, 100.0, -1e9]], dtype=np.float32)
    cases = [
        lambda lib, t: lib.quantize_per_tensor(t, 0.5, 3, lib.quint8),
        lambda lib, t: lib.quantize_per_tensor(t.reshape(-1), 0.1, -2, lib.qint8),
        lambda lib, t: lib.quantize_per_channel(t, lib.tensor([0.1, 0.2], dtype=lib.float64), lib.tensor([0, 1]), 0,
                                                lib.qint8),
        lambda lib, t: lib.quantize_per_tensor(lib.tensor(np.linspace(-3, 3, 100, dtype=np.float32)), 0.1, 0,
                                               lib.qint32),
        lambda lib, t: lib.quantize_per_tensor(lib.tensor([], dtype=lib.float32), 0.1, 0, lib.quint8),
    ]
    for make in cases:
        # the same text; line breaks may fall elsewhere, "trainer." being longer than "torch."
        expected = " ".join(repr(make(torch, torch.tensor(x))).split())
        assert " ".join(repr(make(trainer, trainer.tensor(x))).replace("trainer.", "torch.").split()) == expected


def test_reshaping_and_tensor_qparams():
    x = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32)
    for lib in (torch, trainer):
        q = lib.quantize_per_tensor(lib.tensor(x), lib.tensor(0.05), lib.tensor(7), lib.quint8)
        assert q.q_scale() == float(np.float32(0.05)) and q.q_zero_point() == 7
    expected = torch.quantize_per_tensor(torch.tensor(x), 0.05, 7, torch.quint8)
    got = trainer.quantize_per_tensor(trainer.tensor(x), 0.05, 7, trainer.quint8)
    for reshape in (lambda t: t.flatten(1), lambda t: t.reshape(4, 6), lambda t: t.view(-1), lambda t: t.flatten()):
        np.testing.assert_array_equal(reshape(got).int_repr().numpy(), reshape(expected).int_repr().numpy())
        assert tuple(reshape(got).shape) == tuple(reshape(expected).shape)
    assert got.size() == trainer.Size([2, 3, 4]) and got.numel() == 24 and got.dim() == 3
    copied = got.clone()
    np.testing.assert_array_equal(copied.int_repr().numpy(), got.int_repr().numpy())
    made = trainer._make_per_tensor_quantized_tensor(got.int_repr(), 0.05, 7)
    np.testing.assert_array_equal(made.dequantize().numpy(), expected.dequantize().numpy())


def test_errors_like_torch():
    x = np.ones((2, 3), dtype=np.float32)

    def per_tensor(lib, dtype_name="quint8", zero_point=0, source=np.float32):
        return lib.quantize_per_tensor(lib.tensor(x.astype(source)), 0.1, zero_point, getattr(lib, dtype_name))

    assert_raises_like_torch(lambda lib: per_tensor(lib, "int8"), RuntimeError, "is not supported in new_qtensor")
    assert_raises_like_torch(lambda lib: per_tensor(lib, source=np.float64), RuntimeError,
                             "Quantize only works on Float Tensor, got Double")
    assert_raises_like_torch(lambda lib: per_tensor(lib, zero_point=300), RuntimeError, "is above upper bound")
    assert_raises_like_torch(lambda lib: per_tensor(lib, zero_point=-1), RuntimeError, "is below lower bound")

    def per_channel(lib, scales, points, axis):
        return lib.quantize_per_channel(lib.tensor(x), lib.tensor(scales, dtype=lib.float64), lib.tensor(points),
                                        axis, lib.qint8)

    assert_raises_like_torch(lambda lib: per_channel(lib, [0.1, 0.2], [0, 0], 1), RuntimeError,
                             "length of scales must equal to channel")
    assert_raises_like_torch(lambda lib: per_channel(lib, [0.1, 0.2], [0, 0, 0], 0), RuntimeError,
                             "number of elements in scales and zero_points must match")
    assert_raises_like_torch(lambda lib: per_channel(lib, [0.1, 0.2], [0, 0], 2), RuntimeError,
                             "Channel axis out of range")
    assert_raises_like_torch(lambda lib: per_channel(lib, [0.1, 0.2], [0, 0], 0).q_scale(), RuntimeError,
                             "kPerTensorAffine")
    assert_raises_like_torch(lambda lib: per_tensor(lib).q_per_channel_scales(), RuntimeError, "kPerChannelAffine")
    for op in (lambda t: t.exp(), lambda t: t.sum(), lambda t: t.abs()):
        assert_raises_like_torch(lambda lib, op=op: op(per_tensor(lib)), NotImplementedError, "QuantizedCPU")
    assert_raises_like_torch(lambda lib: per_tensor(lib).numpy(), TypeError, "Got unsupported ScalarType")
    assert_raises_like_torch(lambda lib: per_tensor(lib).requires_grad_(), RuntimeError,
                             "only Tensors of floating point dtype can require gradients")
