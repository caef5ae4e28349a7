"""``quantized::layer_norm``, ``quantized::group_norm`` and ``quantized::instance_norm``, as ATen's x86 kernel
(``quantized_normalize_kernel``) computes them: the input seen as ``M`` rows of ``N`` integers, each row's statistics
from exact integer sums, in float32,

    mean_shifted = float32(sum(q)) / N                  mean = mean_shifted - x_zero_point
    var = max(float32(sum(q * q)) / N - mean_shifted ** 2, 0)
    scale_x_div_std = float32(x_scale / sqrt(float64(var * x_scale * x_scale) + eps))

then ``((q - x_zero_point) - mean) * scale_x_div_std * gamma + beta`` in float32 (layer norm: elementwise affine
parameters; group and instance norm: per channel, with ``scale_x_div_std * gamma`` folded first), quantized on the
output grid as ``quantize_val`` does. This matched PyTorch's integers exactly on the shapes the tests use.
"""

from __future__ import annotations

import numpy as np

from trainer.ao.nn.quantized.batch_norm_kernel import _quantized_input
from trainer.ao.nn.quantized.functional import _quantized
from trainer.backend import xp_of
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor

__all__ = ["group_norm", "instance_norm", "layer_norm"]

_F32 = np.float32


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5, output_scale: float = 1.0,
               output_zero_point: int = 0) -> Tensor:
    """``quantized::layer_norm``: normalise over the trailing ``normalized_shape`` dimensions of a per-tensor
    quantized input; ``weight`` and ``bias`` (float, of that shape) are optional."""
    data = _quantized_input(input, "layer_norm")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if len(shape) == 0 or len(shape) > data.ndim or tuple(data.shape[data.ndim - len(shape):]) != shape:
        raise RuntimeError(f"Given normalized_shape={list(shape)}, expected input with shape [*, "
                           f"{', '.join(map(str, shape))}], but got input of size{list(data.shape)}")
    n = int(np.prod(shape))
    for tensor, name in ((weight, "weight"), (bias, "bias")):
        if tensor is not None and tensor.numel() != n:
            raise RuntimeError(f"quantized::layer_norm: {name} must have {n} elements (normalized_shape "
                               f"{list(shape)}), got {tensor.numel()}")
    rows = data.size // n if n else 0
    return _normalized(data, rows, n, weight, bias, None, eps, output_scale, output_zero_point)


def group_norm(input, num_groups: int, weight=None, bias=None, eps: float = 1e-5, output_scale: float = 1.0,
               output_zero_point: int = 0) -> Tensor:
    """``quantized::group_norm``: normalise each of ``num_groups`` groups of channels of each sample of an
    ``(N, C, *)`` per-tensor quantized input; per-channel ``weight`` and ``bias``."""
    data = _quantized_input(input, "group_norm")
    if data.ndim < 2:
        raise RuntimeError(f"quantized::group_norm: expected an input of at least 2 dimensions (N, C, *), got "
                           f"{data.ndim}")
    channels = data.shape[1]
    if num_groups <= 0 or channels % num_groups != 0:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(data.shape)} and num_groups={num_groups}")
    rows = data.shape[0] * num_groups
    return _normalized(data, rows, data.size // rows if rows else 0, weight, bias, (channels, num_groups), eps,
                       output_scale, output_zero_point)


def instance_norm(input, weight=None, bias=None, eps: float = 1e-5, output_scale: float = 1.0,
                  output_zero_point: int = 0) -> Tensor:
    """``quantized::instance_norm``: group norm with one group per channel."""
    data = _quantized_input(input, "instance_norm")
    if data.ndim < 2:
        raise RuntimeError(f"quantized::instance_norm: expected an input of at least 2 dimensions (N, C, *), got "
                           f"{data.ndim}")
    return group_norm(input, data.shape[1], weight, bias, eps, output_scale, output_zero_point)


def _normalized(data: QuantizedArray, rows: int, n: int, weight, bias, channel_groups, eps, output_scale,
                output_zero_point) -> Tensor:
    """``rows`` rows of ``n`` integers normalised; ``channel_groups`` is ``(channels, groups)`` for per-channel
    affine parameters, None for elementwise ones."""
    if rows * n == 0:
        empty = data.int_repr.copy()
        return Tensor._wrap(QuantizedArray(empty, data.qdtype, float(output_scale), int(output_zero_point)))
    xp = xp_of(data.int_repr)
    q = data.int_repr.reshape(rows, n).astype(np.int64)
    mean_shifted = (q.sum(axis=1).astype(_F32) / _F32(n)).astype(_F32)
    mean = (mean_shifted - _F32(data.zero_point)).astype(_F32)
    mean_of_squares = ((q * q).sum(axis=1).astype(_F32) / _F32(n)).astype(_F32)
    var = xp.maximum((mean_of_squares - (mean_shifted * mean_shifted).astype(_F32)).astype(_F32), _F32(0))
    x_scale = _F32(data.scale)
    var_of_values = ((var * x_scale).astype(_F32) * x_scale).astype(_F32).astype(np.float64)
    scale_x_div_std = (np.float64(x_scale) / xp.sqrt(var_of_values + eps)).astype(_F32)
    centered = ((q.astype(_F32) - _F32(data.zero_point)).astype(_F32) - mean[:, None]).astype(_F32)
    if channel_groups is None:
        gamma = xp.ones(n, _F32) if weight is None else weight._data.astype(_F32).reshape(-1)
        beta = xp.zeros(n, _F32) if bias is None else bias._data.astype(_F32).reshape(-1)
        y = (((centered * scale_x_div_std[:, None]).astype(_F32) * gamma).astype(_F32) + beta).astype(_F32)
    else:
        channels, groups = channel_groups
        per_group = channels // groups
        gamma = xp.ones(channels, _F32) if weight is None else weight._data.astype(_F32).reshape(-1)
        beta = xp.zeros(channels, _F32) if bias is None else bias._data.astype(_F32).reshape(-1)
        # row i holds channels (i * per_group + j) % channels, each over n // per_group elements
        channel = (xp.arange(rows)[:, None] * per_group + xp.arange(per_group)[None, :]) % channels
        folded = (scale_x_div_std[:, None] * gamma[channel]).astype(_F32)
        repeat = n // per_group
        y = ((centered * xp.repeat(folded, repeat, axis=1)).astype(_F32)
             + xp.repeat(beta[channel], repeat, axis=1)).astype(_F32)
    return _quantized(y.reshape(data.shape), output_scale, output_zero_point, data.qdtype)
