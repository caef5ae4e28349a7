"""``quantized::batch_norm2d``/``batch_norm3d`` (and their ``_relu`` forms): inference batch norm on a per-tensor
quantized input with the running statistics, as ATen's x86 kernel computes it. Per channel it folds the statistics,
the affine parameters and both grids into one float32 multiplier and offset

    inv_sigma = float32(1 / float32(sqrt(float32(var + float32(eps)))))
    alpha = float32(float32(inv_sigma * weight) * (in_scale / out_scale))
    beta = float32(float32(bias - float32(float32(mean * inv_sigma) * weight)) / out_scale)

and each integer becomes ``out_zero_point + nearbyint(fma32(alpha, q - in_zero_point, beta))``, clamped to the dtype
(and at the output zero point with ``relu``). This matched PyTorch's integers exactly (AVX512 build, 3 to 100
channels, vector and scalar loops, quint8 and qint8).
"""

from __future__ import annotations

import numpy as np

from trainer.backend import xp_of
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor

__all__ = ["quantized_batch_norm"]


def quantized_batch_norm(input, weight, bias, mean, var, eps: float, output_scale: float, output_zero_point: int,
                         dims: int, relu: bool = False) -> Tensor:
    """``quantized::batch_norm{dims}d`` (``_relu``): ``input`` a per-tensor quantized ``(N, C, *spatial)`` tensor with
    ``dims`` spatial dimensions; ``weight``, ``bias``, ``mean`` and ``var`` float tensors of ``C`` elements."""
    op = f"batch_norm{dims}d{'_relu' if relu else ''}"
    data = _quantized_input(input, op)
    if weight is None:
        raise RuntimeError("Weight must be provided")
    if bias is None:
        raise RuntimeError("Bias must be provided")
    if data.size == 0:
        return Tensor._wrap(data.copy())
    if data.ndim != dims + 2:
        raise RuntimeError(f"Expecting the input tensor of rank {dims + 2}.")
    channels = data.shape[1]
    for tensor, what in ((weight, "Expect weight size to match C"), (bias, "Expect weight size to match C"),
                         (mean, "Mean size must match channel dimension"),
                         (var, "Variance size must match channel dimension")):
        if tensor.numel() != channels:
            raise RuntimeError(what)
    alpha, beta = _fused_params(weight._data, bias._data, mean._data, var._data, eps, float(data.scale),
                                float(output_scale))
    xp = xp_of(data.int_repr)
    shape = (1, channels) + (1,) * dims
    centered = data.int_repr.astype(np.float64) - np.float64(data.zero_point)
    # the float32 product times an integer below 2**33 is exact in float64, so one rounding gives the fused result
    fused = (alpha.astype(np.float64).reshape(shape) * centered + beta.astype(np.float64).reshape(shape))
    ints = xp.rint(fused.astype(np.float32)).astype(np.float64) + output_zero_point
    qdtype = data.qdtype
    ints = xp.clip(ints, output_zero_point if relu else qdtype.min, qdtype.max)
    # a relu zero point outside the dtype's range still ends on the range, as PyTorch's final clamp does
    ints = xp.clip(ints, qdtype.min, qdtype.max).astype(data.int_repr.dtype)
    return Tensor._wrap(QuantizedArray(ints, qdtype, float(output_scale), int(output_zero_point)))


def _fused_params(weight, bias, mean, var, eps: float, input_scale: float, output_scale: float):
    """ATen's ``compute_fused_params``: float32 statistics, the grid ratio in float64, results stored as float32."""
    f32 = np.float32
    var, mean = var.astype(f32).reshape(-1), mean.astype(f32).reshape(-1)
    weight, bias = weight.astype(f32).reshape(-1), bias.astype(f32).reshape(-1)
    xp = xp_of(var)
    inv_sigma = (1.0 / xp.sqrt((var + f32(eps)).astype(f32)).astype(np.float64)).astype(f32)
    alpha = ((inv_sigma * weight).astype(f32).astype(np.float64) * (input_scale / output_scale)).astype(f32)
    shift = (bias - ((mean * inv_sigma).astype(f32) * weight).astype(f32)).astype(f32)
    beta = (shift.astype(np.float64) / output_scale).astype(f32)
    return alpha, beta


def _quantized_input(input, op: str) -> QuantizedArray:
    if not (isinstance(input, Tensor) and isinstance(input._data, QuantizedArray)):
        what = f"a {input.dtype} tensor" if isinstance(input, Tensor) else type(input).__name__
        raise NotImplementedError(f"Could not run 'quantized::{op}' with arguments from the 'CPU' backend: it takes "
                                  f"a quantized tensor, got {what}; quantize it first (QuantStub / "
                                  "trainer.quantize_per_tensor)")
    data = input._data
    if data.axis is not None:
        raise RuntimeError(f"quantized::{op}: only per-tensor quantized inputs are supported, got "
                           f"{data.qscheme.name}")
    return data
