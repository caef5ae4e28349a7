"""Reading IDX files, the format MNIST is distributed in (http://yann.lecun.com/exdb/mnist/).

An IDX file is two zero bytes, a type code, the number of dimensions, each dimension as a big-endian
uint32, then the values in big-endian C order.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """The array stored in an IDX file, raw or gzip-compressed (by a ``.gz`` suffix), in native byte order."""
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        content = f.read()
    return parse_idx(content, name=os.fspath(path))


def parse_idx(content: bytes, name: str = "<bytes>") -> np.ndarray:
    if len(content) < 4 or content[0] != 0 or content[1] != 0:
        raise ValueError(f"{name} is not an IDX file: it must start with two zero bytes, a type code and the "
                         f"number of dimensions")
    type_code, ndim = content[2], content[3]
    if type_code not in _TYPES:
        known = ", ".join(f"0x{code:02X}" for code in _TYPES)
        raise ValueError(f"{name} has IDX type code 0x{type_code:02X}; known codes are {known}")
    header = 4 + 4 * ndim
    if len(content) < header:
        raise ValueError(f"{name} is truncated: its header declares {ndim} dimensions but the file is "
                         f"{len(content)} bytes long")
    shape = tuple(int(d) for d in np.frombuffer(content, ">u4", count=ndim, offset=4))
    dtype = _TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(content) - header != expected:
        raise ValueError(f"{name} holds {len(content) - header} bytes of data, but its header declares shape "
                         f"{list(shape)} of {dtype.newbyteorder('=').name}, which needs {expected} bytes")
    return np.frombuffer(content, dtype, offset=header).reshape(shape).astype(dtype.newbyteorder("="))
