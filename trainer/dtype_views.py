"""``Tensor.view(dtype)``: the same bytes read as another dtype, as PyTorch's bit-level view.

A dtype of the same element size keeps the shape; a smaller one multiplies the last dimension by the size ratio and
a larger one divides it, which needs the last dimension laid out contiguously (and divisible by the ratio). The
result shares memory and version counter with the tensor and, as in PyTorch, has no gradient.
"""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.ops._dtype_errors import scalar_type_name


def view_as_dtype(tensor, dtype):
    from trainer.tensor import Tensor

    target = dtypes.as_dtype(dtype)
    array = tensor._data
    new_size = np.dtype(target.np).itemsize
    if new_size != array.itemsize:
        _check_resizable_view(tensor, target, new_size)
    out = Tensor._wrap(array.view(target.np))
    return out._mark_view_of(tensor)


def _check_resizable_view(tensor, target, new_size: int) -> None:
    array = tensor._data
    what = f"to view {scalar_type_name(tensor.dtype)} as {scalar_type_name(target)} (different element sizes)"
    if array.ndim == 0:
        raise RuntimeError(f"self.dim() cannot be 0 {what}")
    last_stride = array.strides[-1] // array.itemsize
    if last_stride != 1:
        raise RuntimeError(f"self.stride(-1) must be 1 {what}, but got {last_stride}")
    if new_size > array.itemsize:
        ratio = new_size // array.itemsize
        if array.shape[-1] % ratio:
            raise RuntimeError(f"self.size(-1) must be divisible by {ratio} {what}, but got {array.shape[-1]}")
        offset = tensor.storage_offset()
        if offset % ratio:
            raise RuntimeError(f"self.storage_offset() must be divisible by {ratio} {what}, but got {offset}")
        for axis, stride in enumerate(array.strides[:-1]):
            if (stride // array.itemsize) % ratio:
                raise RuntimeError(f"self.stride({axis}) must be divisible by {ratio} {what}, but got "
                                   f"{stride // array.itemsize}")
