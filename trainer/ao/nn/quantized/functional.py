"""``torch.ao.nn.quantized.functional`` and the quantized kernels of the float ops models run between quantized
layers (``F.relu``, ``F.max_pool2d`` and ``F.adaptive_avg_pool2d`` send a quantized tensor here), with the
arithmetic of PyTorch's x86 kernels:

- ``relu``, ``relu6``, ``max_pool2d`` act on the integers and keep the input's scale and zero point;
- ``adaptive_avg_pool2d`` averages the integers and rounds half to even, on the input's grid;
- ``elu``, ``leaky_relu``, ``hardswish`` and the quantized ``add`` dequantize, compute in float32 and quantize on the
  output grid; ``mul`` requantizes the integer products ``(a - a_zp) * (b - b_zp)`` with one float32 multiplier;
- ``add_scalar``/``mul_scalar`` move the grid instead of the integers where they can, as PyTorch's do.

Dequantizing as PyTorch's vector kernels do (``q * scale + (-zero_point * scale)``, fused) and quantizing as its
scalar ``quantize_val`` does (``nearbyint(float32(x * (1 / scale))) + zero_point``) reproduces ``hardswish`` and
``add`` (and ``leaky_relu`` on some grids) to within 1 of PyTorch's integers (its vector and scalar tails round
differently); the others match exactly.
"""

from __future__ import annotations

import numpy as np

from trainer import quantized_types as qt
from trainer.autograd import no_grad
from trainer.backend import xp_of
from trainer.ops import pool
from trainer.quantized_array import QuantizedArray, quantize_per_tensor_array
from trainer.tensor import Tensor

__all__ = ["adaptive_avg_pool2d", "add", "add_scalar", "cat", "elu", "hardswish", "leaky_relu", "max_pool2d", "mul",
           "mul_scalar", "relu", "relu6"]


def relu(input) -> Tensor:
    """The integers clamped below at the zero point (the quantized zero)."""
    data = _per_tensor(input, "relu")
    xp = xp_of(data.int_repr)
    ints = xp.maximum(data.int_repr, xp.asarray(data.zero_point, dtype=data.int_repr.dtype))
    return Tensor._wrap(data.with_int_repr(ints))


def relu6(input, inplace: bool = False) -> Tensor:
    """The integers clamped to the quantized 0 and 6 (6 quantized on the input's grid)."""
    data = _per_tensor(input, "relu6")
    six = int(quantize_per_tensor_array(np.array([6.0], dtype=np.float32), float(data.scale), data.zero_point,
                                        data.qdtype)[0])
    ints = xp_of(data.int_repr).clip(data.int_repr, data.zero_point, six).astype(data.int_repr.dtype)
    return Tensor._wrap(data.with_int_repr(ints))


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """The maximum integer of each window (the padding never wins), on the input's grid."""
    data = _per_tensor(input, "max_pool2d")
    if return_indices:
        raise NotImplementedError("return_indices=True is not supported for quantized max_pool2d (as in PyTorch)")
    with no_grad():
        pooled = pool.max_pool2d(Tensor._wrap(data.int_repr.astype(np.float64)), kernel_size, stride, padding,
                                 dilation, ceil_mode)._data
    return Tensor._wrap(data.with_int_repr(pooled.astype(data.int_repr.dtype)))


def adaptive_avg_pool2d(input, output_size) -> Tensor:
    """The mean of each window's integers, rounded half to even, on the input's grid."""
    data = _per_tensor(input, "adaptive_avg_pool2d")
    with no_grad():
        mean = pool.adaptive_avg_pool2d(Tensor._wrap(data.int_repr.astype(np.float64)), output_size)._data
    ints = xp_of(mean).rint(mean.astype(np.float32)).astype(data.int_repr.dtype)
    return Tensor._wrap(data.with_int_repr(ints))


def hardswish(input, scale: float, zero_point: int) -> Tensor:
    """``x * relu6(x + 3) / 6`` on the output grid ``(scale, zero_point)``."""
    x = _dequantized(_per_tensor(input, "hardswish"))
    xp = xp_of(x)
    y = x * xp.minimum(xp.maximum(x + np.float32(3), np.float32(0)), np.float32(6)) / np.float32(6)
    return _quantized(y.astype(np.float32), scale, zero_point, input.dtype)


def elu(input, scale: float, zero_point: int, alpha: float = 1.0) -> Tensor:
    """``x if x > 0 else alpha * (exp(x) - 1)`` on the output grid."""
    data = _per_tensor(input, "elu")
    x = data.dequantize()
    xp = xp_of(x)
    y = xp.where(x > 0, x, (np.float32(alpha) * (xp.exp(x) - np.float32(1))).astype(np.float32))
    return _quantized(y, scale, zero_point, input.dtype)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False, scale=None, zero_point=None) -> Tensor:
    """``x if x > 0 else negative_slope * x``, on the output grid (the input's when none is given)."""
    data = _per_tensor(input, "leaky_relu")
    x = data.dequantize()
    y = xp_of(x).where(x > 0, x, (x * np.float32(negative_slope)).astype(np.float32))
    if scale is None:
        scale, zero_point = data.scale, data.zero_point
    return _quantized(y, scale, zero_point, input.dtype)


def add(a, b, scale: float, zero_point: int, relu: bool = False) -> Tensor:
    """``quantized::add`` (``add_relu``): ``a + b`` on the output grid."""
    total = _dequantized(_per_tensor(a, "add")) + _dequantized(_per_tensor(b, "add"))
    if relu:
        total = xp_of(total).maximum(total, np.float32(0))
    return _quantized(total.astype(np.float32), scale, zero_point, a.dtype)


def mul(a, b, scale: float, zero_point: int, relu: bool = False) -> Tensor:
    """``quantized::mul`` (``mul_relu``): the integer products requantized with
    ``float32(a_scale * b_scale) * float32(1 / scale)``."""
    x, y = _per_tensor(a, "mul"), _per_tensor(b, "mul")
    product = ((x.int_repr.astype(np.float64) - x.zero_point) * (y.int_repr.astype(np.float64) - y.zero_point))
    multiplier = np.float32(np.float32(x.scale) * np.float32(y.scale)) * (np.float32(1) / np.float32(scale))
    xp = xp_of(product)
    ints = xp.rint((product.astype(np.float32) * np.float32(multiplier)).astype(np.float32)).astype(np.float64)
    low = zero_point if relu else x.qdtype.min
    ints = xp.clip(ints + zero_point, low, x.qdtype.max).astype(x.int_repr.dtype)
    return Tensor._wrap(QuantizedArray(ints, x.qdtype, float(scale), int(zero_point)))


def add_scalar(input, other: float) -> Tensor:
    """``quantized::add_scalar``: the same integers with the zero point moved by ``round(other / scale)`` when it
    stays in range; otherwise the values requantized on the grid of the shifted range (which PyTorch widens to
    hold 0)."""
    data = _per_tensor(input, "add_scalar")
    qdtype, scale = data.qdtype, float(data.scale)
    shift = int(np.rint(np.float32(other) / np.float32(scale)))
    moved = data.zero_point - shift
    if qdtype.min <= moved <= qdtype.max:
        return Tensor._wrap(QuantizedArray(data.int_repr.copy(), qdtype, scale, moved))
    low = min((qdtype.min - data.zero_point) * scale + other, 0.0)
    high = max((qdtype.max - data.zero_point) * scale + other, 0.0)
    new_scale = (high - low) / (qdtype.max - qdtype.min)
    new_zero_point = int(np.clip(qdtype.min - np.rint(low / new_scale), qdtype.min, qdtype.max))
    values = (data.dequantize() + np.float32(other)).astype(np.float32)
    return _quantized(values, new_scale, new_zero_point, qdtype)


def mul_scalar(input, other: float) -> Tensor:
    """``quantized::mul_scalar``: the same integers on a grid ``|other|`` times wider (mirrored for a negative
    ``other``)."""
    data = _per_tensor(input, "mul_scalar")
    qdtype = data.qdtype
    scale = abs(float(other)) * float(data.scale)
    if other >= 0:
        return Tensor._wrap(QuantizedArray(data.int_repr.copy(), qdtype, scale, data.zero_point))
    mirrored = (qdtype.max + qdtype.min - data.int_repr.astype(np.int64)).astype(data.int_repr.dtype)
    return Tensor._wrap(QuantizedArray(mirrored, qdtype, scale, qdtype.max - (data.zero_point - qdtype.min)))


def cat(tensors, scale: float, zero_point: int, dim: int = 0) -> Tensor:
    """``quantized::cat``: the dequantized tensors concatenated and quantized on the output grid."""
    import trainer

    datas = [_per_tensor(t, "cat") for t in tensors]
    joined = trainer.cat([Tensor._wrap(d.dequantize()) for d in datas], dim)._data
    qdtype = datas[0].qdtype
    ints = quantize_per_tensor_array(joined, float(scale), int(zero_point), qdtype)
    return Tensor._wrap(QuantizedArray(ints, qdtype, float(scale), int(zero_point)))


def _per_tensor(input, op: str) -> QuantizedArray:
    if not (isinstance(input, Tensor) and isinstance(input._data, QuantizedArray)):
        what = f"a {input.dtype} tensor" if isinstance(input, Tensor) else type(input).__name__
        raise NotImplementedError(f"Could not run 'quantized::{op}' with arguments from the 'CPU' backend: it takes "
                                  f"a quantized tensor, got {what}")
    data = input._data
    if data.axis is not None:
        raise RuntimeError(f"quantized::{op}: only per-tensor quantized inputs are supported, got "
                           f"{data.qscheme.name}")
    return data


def _dequantized(data: QuantizedArray):
    """PyTorch's vector dequantization: ``fma(q, scale, -zero_point * scale)`` in float32."""
    scale = np.float32(data.scale)
    offset = np.float32(np.float32(-data.zero_point) * scale)
    return (data.int_repr.astype(np.float64) * np.float64(scale) + np.float64(offset)).astype(np.float32)


def _quantized(values, scale: float, zero_point: int, qdtype: qt.QuantizedDtype) -> Tensor:
    """ATen's ``quantize_val``: ``nearbyint(float32(x * float32(1 / scale))) + zero_point``, clamped."""
    xp = xp_of(values)
    inverse = np.float32(1) / np.float32(scale)
    ints = xp.rint((values * inverse).astype(np.float32)).astype(np.float64) + zero_point
    ints = xp.clip(ints, qdtype.min, qdtype.max).astype(qdtype.underlying)
    return Tensor._wrap(QuantizedArray(ints, qdtype, float(scale), int(zero_point)))
