"""The arithmetic of PyTorch's dynamically quantized linear layers on its x86 engine (fbgemm):

- int8 (``quantized::linear_dynamic``): the float32 input gets its own quint8 grid from its minimum and maximum at
  each call (fbgemm's ``ChooseQuantizationParams``, over 0..127 when ``reduce_range``), is quantized on it, multiplied
  by the int8 weight with exact integer accumulation of ``(x_q - x_zp) * (w_q - w_zp)``, and the sums go back to
  float32 as ``fma(float32(acc), float32(x_scale * w_scale), bias)`` (fbgemm's ``ReQuantizeForFloat``).
- float16 (``quantized::linear_dynamic_fp16``): float16-rounded weights, float32 input and output, the products
  summed exactly and rounded once (fbgemm sums in float32, so outputs agree to float32 rounding).

The integer sums run as float64 products of integers, exact while they stay under 2**53.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer import quantized_types as qt
from trainer.backend import xp_of
from trainer.ops._dtype_errors import scalar_type_name
from trainer.quantized_array import QuantizedArray, quantize_per_tensor_array
from trainer.tensor import Tensor

__all__ = ["choose_input_qparams", "dynamic_linear_fp16", "dynamic_linear_int8", "round_weight_to_float16"]

_SMALL_SCALE_THRESHOLD = np.float32(6.1e-5)  # fbgemm raises smaller scales to this one
_FLOAT16_MAX = float(np.finfo(np.float16).max)


def choose_input_qparams(x_min: float, x_max: float, qmin: int, qmax: int, reduce_range: bool):
    """fbgemm's ``ChooseQuantizationParams`` (without sparsity preservation): the float32 scale and the integer
    zero point of an affine grid over ``[min(x_min, 0), max(x_max, 0)]``, computed in float64 as fbgemm does."""
    if reduce_range:
        qmin, qmax = qmin // 2, qmax // 2
    x_min, x_max = min(x_min, 0.0), max(x_max, 0.0)
    scale = (x_max - x_min) / (qmax - qmin)
    if np.float32(scale) == 0 or np.isinf(np.float32(1) / np.float32(scale)):
        scale = 0.1  # fbgemm's choice: keep 1 / scale finite
    if scale < _SMALL_SCALE_THRESHOLD:  # fbgemm moves the range with the scale, in float32
        amplifier = _SMALL_SCALE_THRESHOLD / np.float32(scale)
        scale = float(_SMALL_SCALE_THRESHOLD)
        if x_min == 0.0:
            x_max = float(_SMALL_SCALE_THRESHOLD * np.float32(qmax - qmin))
        elif x_max == 0.0:
            x_min = float(-_SMALL_SCALE_THRESHOLD * np.float32(qmax - qmin))
        else:
            x_min, x_max = float(np.float32(x_min) * amplifier), float(np.float32(x_max) * amplifier)
    from_min, from_max = qmin - x_min / scale, qmax - x_max / scale
    # the zero point from the end with the smaller terms carries the smaller rounding error
    initial = from_min if abs(qmin) - abs(x_min / scale) < abs(qmax) - abs(x_max / scale) else from_max
    zero_point = qmin if initial < qmin else qmax if initial > qmax else int(np.rint(initial))
    return np.float32(scale), zero_point


def dynamic_linear_int8(x: Tensor, weight: Tensor, bias, reduce_range: bool) -> Tensor:
    """``quantized::linear_dynamic``: ``x`` float32 with at least 2 dimensions, ``weight`` a qint8 tensor (per
    tensor or per output channel), ``bias`` float32 or None."""
    data = _float32_input(x, weight.shape[1])
    xp = xp_of(data)
    if data.size:
        x_min, x_max = float(data.min()), float(data.max())
    else:
        x_min = x_max = 0.0
    x_scale, x_zero_point = choose_input_qparams(x_min, x_max, qt.quint8.min, qt.quint8.max, reduce_range)
    x_q = quantize_per_tensor_array(data, float(x_scale), x_zero_point, qt.quint8)
    # clamped to 0..255 even under reduce_range, as fbgemm's 8-bit packing does
    w: QuantizedArray = weight._data
    w_centered = w.int_repr.astype(np.float64)
    if w.axis is None:
        w_centered = w_centered - np.float64(w.zero_point)
        w_scale = xp.full(w.int_repr.shape[0], np.float32(w.scale))
    else:
        w_centered = w_centered - w.zero_point.astype(np.float64).reshape(-1, 1)
        w_scale = w.scale.astype(np.float32)
    acc = (x_q.astype(np.float64) - np.float64(x_zero_point)) @ w_centered.T
    multiplier = (x_scale * w_scale).astype(np.float32).astype(np.float64)
    y = acc.astype(np.float32).astype(np.float64) * multiplier  # exact: two float32 significands
    if bias is not None:
        y = y + bias._data.astype(np.float32).astype(np.float64)
    return Tensor._wrap(y.astype(np.float32))


def dynamic_linear_fp16(x: Tensor, weight: Tensor, bias) -> Tensor:
    """``quantized::linear_dynamic_fp16``: ``weight`` holds float16-rounded values (as float32)."""
    data = _float32_input(x, weight.shape[1], fp16=True)
    y = data.astype(np.float64) @ weight._data.astype(np.float64).T
    y = y.astype(np.float32)
    if bias is not None:
        y = y + bias._data.astype(np.float32)
    return Tensor._wrap(y)


def round_weight_to_float16(weight: Tensor) -> Tensor:
    """The float32 weight rounded to float16 (to nearest even) and back, saturating at float16's largest value as
    fbgemm's packing does."""
    data = weight.detach()._data.astype(np.float32)
    xp = xp_of(data)
    return Tensor._wrap(xp.clip(data, -_FLOAT16_MAX, _FLOAT16_MAX).astype(np.float16).astype(np.float32))


def _float32_input(x, in_features: int, fp16: bool = False):
    if not isinstance(x, Tensor) or x.is_quantized or x.dtype is not dtypes.float32:
        found = scalar_type_name(x.dtype) if isinstance(x, Tensor) else type(x).__name__
        raise RuntimeError(f"expected scalar type Float but found {found}: the dynamically quantized linear layer "
                           "takes a float32 input")
    if x.ndim < 2:
        if fp16:
            raise RuntimeError("Expected input.dim() >= 2 to be true, but got false.")
        raise RuntimeError("The dimension of input tensor should be larger than or equal to 2")
    if x.shape[-1] != in_features:
        raise RuntimeError(f"The number of rows in the packB should be equal to K: {x.shape[-1]} (the layer has "
                           f"in_features={in_features})")
    return x._data
