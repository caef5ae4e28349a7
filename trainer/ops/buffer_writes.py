"""Writes into a module's buffers outside autograd, as PyTorch's in-place kernels make them (``resize_`` to the
values' shape, then copy): the quantization observers' running statistics and the grids they choose."""

from __future__ import annotations

from trainer.backend import xp_of


def overwrite(buffer, values) -> None:
    """Write ``values`` into ``buffer`` in place, taking their shape and keeping the buffer's dtype."""
    values = xp_of(buffer._data).asarray(values).astype(buffer._data.dtype, copy=False)
    if tuple(buffer.shape) != values.shape:
        buffer.resize_(values.shape)
    buffer._data[...] = values
    buffer._version_counter.value += 1
