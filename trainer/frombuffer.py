"""``frombuffer``: a 1-D CPU tensor over the bytes of any object with Python's buffer protocol (``bytearray``,
``array.array``, ``mmap``, a NumPy array), sharing its memory, as ``torch.frombuffer``."""

from __future__ import annotations

import numpy as np

from trainer import dtypes
from trainer.creation import _finish


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """``count`` elements of ``dtype`` (all that fit when negative) starting ``offset`` bytes into ``buffer``."""
    try:
        length = memoryview(buffer).nbytes
    except TypeError:
        raise ValueError("object does not implement Python buffer protocol.") from None
    itemsize = dtypes.as_dtype(dtype).np.itemsize
    if count == 0 or length == 0:
        raise ValueError(f"both buffer length ({length}) and count ({count}) must not be 0")
    if not 0 <= offset < length:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length ({length} "
                         f"bytes) minus 1")
    if count < 0:
        if (length - offset) % itemsize:
            raise ValueError(f"buffer length ({length - offset} bytes) after offset ({offset} bytes) must be a "
                             f"multiple of element size ({itemsize})")
        count = (length - offset) // itemsize
    elif offset + count * itemsize > length:
        raise ValueError(f"requested buffer length ({count} * {itemsize} bytes) after offset ({offset} bytes) must "
                         f"not be greater than actual buffer length ({length} bytes)")
    # np.frombuffer keeps a reference to the buffer, so its memory outlives the tensor as in PyTorch
    array = np.frombuffer(buffer, dtype=dtypes.as_dtype(dtype).np, count=count, offset=offset)
    return _finish(array, requires_grad)
