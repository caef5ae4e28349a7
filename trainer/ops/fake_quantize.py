"""Fake quantization, the building block of quantization-aware training: PyTorch's
``fake_quantize_per_tensor_affine`` and ``fake_quantize_per_channel_affine``.

The values follow ATen's CPU kernels: ``q = zero_point + nearbyint(x * (1 / scale))`` (round half to even; the
reciprocal in float32, the product in the input's precision, float32 for the half types), then
``(clamp(q, quant_min, quant_max) - zero_point) * scale``, rounded to float32 per tensor (whatever the input's dtype,
as ATen's per-tensor kernel computes it) and kept in float64 per channel, then to the input's dtype (through float32
for the half types, as ATen's conversions go). NaN lands on ``quant_min``, as ATen's float-to-int64 conversion
sends it there. A floating-point zero point (per channel only) is added before rounding, as ATen does for it. The
gradient is straight-through where ``q`` fell inside ``[quant_min, quant_max]`` and zero elsewhere; scale and zero
point get none (ATen has no derivative for them either).
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.dtypes import bfloat16, is_floating
from trainer.ops._dtype_errors import scalar_type_name
from trainer.ops._operands import normalize_dim
from trainer.tensor import Tensor

_HALF_TYPES = (np.dtype(np.float16), bfloat16.np)


def _fake_quantized(x, scale, zero_point, quant_min: int, quant_max: int, float32_product: bool):
    """The fake-quantized values of ``x`` and the mask of elements whose grid value was in range. ``scale`` (float32)
    and ``zero_point`` broadcast against ``x``; a floating zero point is added before rounding. ``float32_product``
    rounds the dequantized values to float32."""
    xp = xp_of(x)
    product_type = np.float64 if x.dtype == np.float64 else np.float32
    inverse = (np.float32(1) / xp.asarray(scale, dtype=np.float32)).astype(product_type)
    product = x.astype(product_type) * inverse
    zero_point = xp.asarray(zero_point)
    if is_floating(zero_point.dtype):
        q = xp.rint(product + zero_point.astype(product_type)).astype(np.float64)
    else:
        q = xp.rint(product).astype(np.float64) + zero_point
    in_range = (q >= quant_min) & (q <= quant_max)
    clamped = xp.where(xp.isnan(q), quant_min, xp.clip(q, quant_min, quant_max))
    out = (clamped - zero_point.astype(np.float64)) * xp.asarray(scale, dtype=np.float32).astype(np.float64)
    if float32_product or x.dtype in _HALF_TYPES:
        out = out.astype(np.float32)
    return out.astype(x.dtype), in_range


class FakeQuantizePerTensorAffine(Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, quant_min, quant_max):
        out, in_range = _fake_quantized(x, np.float32(scale), zero_point, quant_min, quant_max, True)
        ctx.in_range = in_range
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.in_range.astype(grad.dtype)


class FakeQuantizePerChannelAffine(Function):
    @staticmethod
    def forward(ctx, x, scale, zero_point, axis, quant_min, quant_max):
        channels = (-1,) + (1,) * (x.ndim - axis - 1)  # broadcast the per-channel values along ``axis``
        out, in_range = _fake_quantized(x, scale.reshape(channels), zero_point.reshape(channels), quant_min, quant_max,
                                         False)
        ctx.in_range = in_range
        return out

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.in_range.astype(grad.dtype), None, None


def fake_quantize_per_tensor_affine(input, scale, zero_point, quant_min, quant_max):
    """``torch.fake_quantize_per_tensor_affine``: ``scale`` and ``zero_point`` as Python numbers or as one-element
    tensors (whose zero point is then not checked against the range, as in PyTorch)."""
    tensor_qparams = isinstance(scale, Tensor), isinstance(zero_point, Tensor)
    if tensor_qparams[0] != tensor_qparams[1]:
        raise TypeError("fake_quantize_per_tensor_affine() received an invalid combination of arguments: scale and "
                        "zero_point must both be Python numbers or both be one-element Tensors, got "
                        f"({type(scale).__name__}, {type(zero_point).__name__})")
    _check_floating(input, "fake_quantize_tensor_cachemask_kernel_type_handling")
    _check_range(quant_min, quant_max)
    if tensor_qparams[0]:
        scale, zero_point = _one_value(scale), int(_one_value(zero_point))
    else:
        _check_zero_points(zero_point, zero_point, quant_min, quant_max)
    return FakeQuantizePerTensorAffine.apply(input, scale=float(scale), zero_point=int(zero_point),
                                             quant_min=int(quant_min), quant_max=int(quant_max))


def fake_quantize_per_channel_affine(input, scale, zero_point, axis, quant_min, quant_max):
    """``torch.fake_quantize_per_channel_affine``: one scale and zero point per index of ``input``'s ``axis``."""
    if scale.dtype.name not in ("float32", "bfloat16"):
        raise RuntimeError(f"Scale must be Float or BFloat16, found {scalar_type_name(scale.dtype)}")
    if zero_point.dtype.name not in ("int32", "float32", "float16"):
        raise RuntimeError(f"Zero-point must be Int32, Float or Half, found {scalar_type_name(zero_point.dtype)}")
    if scale.ndim != 1:
        raise RuntimeError(f"scale should be a 1-D tensor, got {scale.ndim}-D")
    if zero_point.ndim != 1:
        raise RuntimeError(f"zero point should be a 1-D tensor, got {zero_point.ndim}-D")
    if scale.numel() != zero_point.numel():
        raise RuntimeError(f"scale and zero-point need to have the same dimensions, got {scale.numel()} scales and "
                           f"{zero_point.numel()} zero points")
    if scale.numel() != _size(input, axis):
        raise RuntimeError(f"dimensions of scale and zero-point are not consistent with input tensor: {scale.numel()} "
                           f"values for the {_size(input, axis)} channels of axis {axis}")
    _check_range(quant_min, quant_max)
    if not zero_point.dtype.is_floating_point:
        points = zero_point._data
        _check_zero_points(int(points.min()), int(points.max()), quant_min, quant_max)
    if not 0 <= axis <= input.ndim:
        raise RuntimeError(f"`axis` must be between 0 and number of dimensions of input, got {axis} for a "
                           f"{input.ndim}-D input")
    _check_floating(input, "fake_quantize_channel_cachemask_cpu_type_handling")
    return FakeQuantizePerChannelAffine.apply(input, scale.detach(), zero_point.detach(), axis=int(axis),
                                              quant_min=int(quant_min), quant_max=int(quant_max))


def _check_floating(input, kernel: str) -> None:
    if not is_floating(input._data.dtype):
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_type_name(input.dtype)}\': fake '
                                  f"quantization takes a floating-point input, got {input.dtype.name}")


def _check_range(quant_min, quant_max) -> None:
    if quant_min > quant_max:
        raise RuntimeError(f"`quant_min` should be less than or equal to `quant_max`, got quant_min={quant_min} and "
                           f"quant_max={quant_max}")


def _check_zero_points(lowest, highest, quant_min, quant_max) -> None:
    if lowest < quant_min or highest > quant_max:
        raise RuntimeError(f"`zero_point` must be between `quant_min` and `quant_max`, got zero points in "
                           f"[{lowest}, {highest}] for the range [{quant_min}, {quant_max}]")


def _one_value(t: Tensor):
    if t.numel() != 1:
        raise RuntimeError(f"a Tensor with {t.numel()} elements cannot be converted to Scalar")
    return t._data.reshape(()).item()


def _size(input, axis) -> int:
    if input.ndim == 0:
        raise IndexError(f"Dimension specified as {axis} but tensor has no dimensions")
    return input.shape[normalize_dim(axis, input.ndim)]

