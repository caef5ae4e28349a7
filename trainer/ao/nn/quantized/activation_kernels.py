"""``quantized::sigmoid``, ``quantized::softmax`` and ``quantized::prelu`` with the arithmetic of PyTorch's x86
kernels (each matched PyTorch's integers exactly on the tests' inputs):

- ``sigmoid`` dequantizes, computes ``1 / (1 + exp(-x))`` in float32 and quantizes on the output grid;
- ``softmax`` (fbgemm engine) dequantizes, takes the float32 softmax and quantizes with ``quantize_per_tensor``;
- ``prelu`` stays in integers: ``(max(q, zp) - zp) * (q(1) - w_zp) + (min(q, zp) - zp) * (q_w - w_zp)``, with
  ``q(1)`` the weight grid's 1, requantized by ``float32(x_scale * w_scale * (1 / out_scale))``.
"""

from __future__ import annotations

import numpy as np

import trainer
from trainer.ao.nn.quantized.functional import _dequantized, _per_tensor, _quantized
from trainer.autograd import no_grad
from trainer.backend import xp_of
from trainer.quantized_array import QuantizedArray, quantize_per_tensor_array
from trainer.tensor import Tensor

__all__ = ["prelu", "sigmoid", "softmax"]

_F32 = np.float32


def sigmoid(input, output_scale: float, output_zero_point: int) -> Tensor:
    """``quantized::sigmoid``: ``1 / (1 + exp(-x))`` on the output grid."""
    data = _per_tensor(input, "sigmoid")
    x = _dequantized(data)
    y = (_F32(1) / (_F32(1) + xp_of(x).exp(-x)).astype(_F32)).astype(_F32)
    return _quantized(y, output_scale, output_zero_point, data.qdtype)


def softmax(input, dim: int, output_scale: float, output_zero_point: int) -> Tensor:
    """``quantized::softmax``: the float32 softmax of the dequantized input along ``dim``, quantized."""
    data = _per_tensor(input, "softmax")
    with no_grad():
        y = trainer.nn.functional.softmax(Tensor._wrap(data.dequantize()), dim)._data
    ints = quantize_per_tensor_array(y.astype(_F32), float(output_scale), int(output_zero_point), data.qdtype)
    return Tensor._wrap(QuantizedArray(ints, data.qdtype, float(output_scale), int(output_zero_point)))


def prelu(input, weight, output_scale: float, output_zero_point: int) -> Tensor:
    """``quantized::prelu``: ``weight`` a per-tensor quantized tensor of one slope or one per channel (dim 1)."""
    data = _per_tensor(input, "prelu")
    if data.ndim == 0:
        raise RuntimeError("qprelu: zero-dim input tensor is not allowed.")
    w = _per_tensor(weight, "prelu")
    if w.qdtype is not data.qdtype:
        raise RuntimeError(f"quantized::prelu: the weight's dtype {w.qdtype!r} must be the input's {data.qdtype!r}")
    slopes = w.int_repr.astype(np.int64)
    if w.ndim != data.ndim:
        if w.size != 1 and (data.ndim < 2 or w.size != data.shape[1]):
            channels = data.shape[1] if data.ndim > 1 else 1
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{w.size} and channel size = {channels}.")
        shape = [1] * data.ndim
        if data.ndim > 1:
            shape[1] = w.size
        slopes = slopes.reshape(shape)
    w_scale = _F32(w.scale)
    one = int(_quantize_val_scalar(1.0, w_scale, w.zero_point, w.qdtype))
    multiplier = _F32(_F32(_F32(data.scale) * w_scale) * (_F32(1) / _F32(output_scale)))
    q = data.int_repr.astype(np.int64)
    xp = xp_of(q)
    acc = ((xp.maximum(q, data.zero_point) - data.zero_point) * (one - w.zero_point)
           + (xp.minimum(q, data.zero_point) - data.zero_point) * (slopes - w.zero_point))
    ints = xp.rint((acc.astype(_F32) * multiplier).astype(_F32)).astype(np.float64) + output_zero_point
    ints = xp.clip(ints, data.qdtype.min, data.qdtype.max).astype(data.int_repr.dtype)
    return Tensor._wrap(QuantizedArray(ints, data.qdtype, float(output_scale), int(output_zero_point)))


def _quantize_val_scalar(value: float, scale, zero_point: int, qdtype) -> int:
    """ATen's scalar ``quantize_val``: ``nearbyint(float32(value * float32(1 / scale))) + zero_point``, clamped."""
    q = np.rint(_F32(_F32(value) * (_F32(1) / _F32(scale)))) + zero_point
    return int(np.clip(q, qdtype.min, qdtype.max))
