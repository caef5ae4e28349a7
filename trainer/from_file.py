"""``trainer.from_file``: a 1-D tensor over a file's bytes, memory-mapped with ``numpy.memmap``."""

from __future__ import annotations

import os

import numpy as np

from trainer import dtypes
from trainer.backend import as_device


def from_file(filename, shared=None, size=0, *, dtype=None, layout=None, device=None, pin_memory=False,
              requires_grad=False):
    """``size`` elements of ``dtype`` read from the start of ``filename``, mapped rather than copied. With
    ``shared=True`` writes to the tensor go to the file (which is created, or extended with zeros, to fit);
    otherwise the mapping is private: the tensor's changes stay in memory."""
    import trainer

    if layout is not None and layout is not trainer.strided:
        raise RuntimeError(f"from_file(): only the strided layout is supported, got {layout}")
    if pin_memory:
        raise RuntimeError("from_file(): pin_memory=True needs CuPy's pinned memory, which a file mapping is not")
    dt = dtypes.get_default_dtype() if dtype is None else dtypes.as_dtype(dtype)
    size = int(size)
    if size < 0:
        raise RuntimeError(f"from_file(): size must be non-negative, got {size}")
    nbytes = size * np.dtype(dt.np).itemsize
    path = os.fspath(filename)
    if shared:
        with open(path, "ab") as f:  # create it if missing; never truncate
            if f.tell() < nbytes:
                f.truncate(nbytes)
    elif not os.path.exists(path):
        raise RuntimeError(f"unable to open file <{path}> in read-only mode: No such file or directory (2)")
    elif os.path.getsize(path) < nbytes:
        raise RuntimeError(f"file <{path}> size <{os.path.getsize(path)}> is smaller than the required mapping size "
                           f"<{nbytes}>")
    if size == 0:  # mmap cannot map zero bytes
        array = np.empty(0, dt.np)
    else:
        array = np.memmap(path, dtype=dt.np, mode="r+" if shared else "c", shape=(size,)).view(np.ndarray)
    out = trainer.Tensor._wrap(array)
    if device is not None and as_device(device).type != "cpu":
        out = out.to(device)
    return out.requires_grad_(requires_grad)
