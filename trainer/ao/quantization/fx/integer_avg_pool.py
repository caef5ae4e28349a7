"""``avg_pool2d`` on a quantized tensor with PyTorch's integer arithmetic (``quantized::avg_pool2d``): the window
means of ``q - zero_point`` (zero padding, the divisor PyTorch's options give), rounded half to even, on the input's
grid. Float pooling between dequantize and quantize rounds the ties of small windows differently."""

from __future__ import annotations

import numpy as np

from trainer.autograd import no_grad
from trainer.backend import xp_of
from trainer.ops import pool
from trainer.quantized_array import QuantizedArray
from trainer.tensor import Tensor


def quantized_avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
                         divisor_override=None) -> Tensor:
    data = input._data
    if not isinstance(data, QuantizedArray) or data.axis is not None:
        raise TypeError(f"quantized_avg_pool2d takes a per-tensor quantized tensor, got {input.dtype}")
    centered = data.int_repr.astype(np.float64) - data.zero_point
    with no_grad():
        mean = pool.avg_pool2d(Tensor._wrap(centered), kernel_size, stride, padding, ceil_mode, count_include_pad,
                               divisor_override)._data
    xp = xp_of(mean)
    ints = xp.clip(xp.rint(mean.astype(np.float32)) + data.zero_point, data.qdtype.min, data.qdtype.max)
    return Tensor._wrap(data.with_int_repr(ints.astype(data.int_repr.dtype)))
