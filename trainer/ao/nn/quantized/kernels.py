"""The int8 arithmetic of the quantized linear and convolution layers, as fbgemm (PyTorch's x86 engine) computes it:
``uint8`` activations and ``int8`` weights (per tensor or per output channel), exact integer accumulation of
``(x_q - x_zero_point) * (w_q - w_zero_point)``, then fbgemm's float32 requantization

    act_times_w_scale = float32(x_scale) * float32(w_scale)
    y = (float32(acc) + float32(bias) / act_times_w_scale) * (act_times_w_scale / float32(out_scale))
    out = clamp(nearbyint(y) + out_zero_point, out_zero_point if relu else 0, 255)

each step rounded to float32, round half to even. The integer sums run as float64 products and sums of integers,
exact while they stay under 2**53 (an int8 layer would need over 10**8 terms per output to leave that range).
"""

from __future__ import annotations

import numpy as np

import trainer
from trainer import quantized_types as qt
from trainer.autograd import no_grad
from trainer.backend import xp_of
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor

_CONV_BY_DIMS = {1: "conv1d", 2: "conv2d", 3: "conv3d"}


def quantized_linear(x, weight, bias, scale: float, zero_point: int, relu: bool = False, op: str = "linear"):
    """``quantized::linear`` (``linear_relu``): ``x`` a quint8 tensor whose last dimension is the features."""
    data = _activation(x, op)
    w = weight._data
    centered = data.int_repr.astype(np.float64) - np.float64(data.zero_point)
    acc = centered @ _centered_weight(w).reshape(w.int_repr.shape[0], -1).T
    return _requantized(acc, data, w, bias, scale, zero_point, relu, channel_axis=-1)


def quantized_conv(x, weight, bias, stride, padding, dilation, groups: int, scale: float, zero_point: int,
                   relu: bool = False, op: str = "conv2d"):
    """``quantized::conv{1,2,3}d`` (``_relu``): the zero padding stands for the input's zero point, so it pads the
    centred integers with zeros."""
    data = _activation(x, op)
    w = weight._data
    centered = data.int_repr.astype(np.float64) - np.float64(data.zero_point)
    conv = getattr(trainer.nn.functional, _CONV_BY_DIMS[w.int_repr.ndim - 2])
    with no_grad():
        acc = conv(Tensor._wrap(centered), Tensor._wrap(_centered_weight(w)), None, stride, padding, dilation,
                   groups)._data
    return _requantized(acc, data, w, bias, scale, zero_point, relu, channel_axis=1)


def _activation(x, op: str) -> QuantizedArray:
    if not (isinstance(x, Tensor) and isinstance(x._data, QuantizedArray)):
        what = f"a {x.dtype} tensor" if isinstance(x, Tensor) else type(x).__name__
        raise NotImplementedError(f"Could not run 'quantized::{op}' with arguments from the 'CPU' backend: the "
                                  f"quantized layer takes a quantized (trainer.quint8) input, got {what}; quantize "
                                  "it first (QuantStub / trainer.quantize_per_tensor)")
    data = x._data
    if data.qdtype is not qt.quint8 or data.axis is not None:
        raise RuntimeError(f"quantized::{op} (fbgemm): Expected activation data type QUInt8 quantized per tensor, "
                           f"got {data.qdtype!r} {data.qscheme.name}")
    return data


def _centered_weight(w: QuantizedArray):
    """The weight's integers minus their zero points (zero for the symmetric weights PyTorch's qconfigs give)."""
    ints = w.int_repr.astype(np.float64)
    if w.axis is None:
        return ints - np.float64(w.zero_point)
    return ints - w.zero_point.astype(np.float64).reshape(w.channel_shape())


def _requantized(acc, data: QuantizedArray, w: QuantizedArray, bias, scale, zero_point, relu, channel_axis):
    xp = xp_of(acc)
    channels = acc.shape[channel_axis]
    weight_scale = xp.full(channels, np.float32(w.scale)) if w.axis is None else w.scale.astype(np.float32)
    shape = (-1,) if channel_axis == -1 else (-1,) + (1,) * (acc.ndim - 2)
    act_times_w_scale = (np.float32(data.scale) * weight_scale).astype(np.float32).reshape(shape)
    raw = acc.astype(np.float32)
    if bias is not None:
        raw = raw + (bias._data.astype(np.float32).reshape(shape) / act_times_w_scale).astype(np.float32)
    multiplier = (act_times_w_scale / np.float32(scale)).astype(np.float32)
    rounded = xp.rint((raw * multiplier).astype(np.float32)).astype(np.float64) + zero_point
    out = xp.clip(rounded, zero_point if relu else 0, 255).astype(np.uint8)
    return Tensor._wrap(QuantizedArray(out, qt.quint8, float(scale), int(zero_point)))
