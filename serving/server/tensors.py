"""Tensor contents on the wire <-> NumPy arrays: raw little-endian bytes, typed contents, BYTES."""

from __future__ import annotations

import math
import struct

import numpy as np

from serving.server.dtypes import CONTENTS_FIELD, NUMPY
from serving.server.errors import InvalidRequestError

_LENGTH = struct.Struct("<I")


def element_count(shape) -> int:
    return math.prod(int(d) for d in shape)


def from_raw(raw: bytes, datatype: str, shape: list[int], where: str) -> np.ndarray:
    """Decode one `raw_input_contents` entry; `where` is "input 'X' for model 'M'" for messages."""
    count = element_count(shape)
    if datatype == "BYTES":
        return _bytes_from_raw(raw, count, where).reshape(shape)
    dtype = NUMPY[datatype]
    expected = count * dtype.itemsize
    if len(raw) != expected:
        raise InvalidRequestError(f"input byte size mismatch for {where}. Expected {expected}, got {len(raw)}")
    # Copied: frombuffer views the read-only request bytes, and kernels may write into their inputs.
    return np.frombuffer(raw, dtype=dtype.newbyteorder("<")).astype(dtype, copy=True).reshape(shape)


def _bytes_from_raw(raw: bytes, count: int, where: str) -> np.ndarray:
    items, offset, size = [], 0, len(raw)
    while offset < size:
        if offset + 4 > size:
            raise InvalidRequestError(f"incomplete length prefix at byte {offset} in BYTES contents of {where}")
        (length,) = _LENGTH.unpack_from(raw, offset)
        offset += 4
        if offset + length > size:
            raise InvalidRequestError(
                f"BYTES element {len(items)} of {where} claims {length} bytes but only {size - offset} remain")
        items.append(raw[offset:offset + length])
        offset += length
    if len(items) != count:
        raise InvalidRequestError(f"unexpected number of string elements {len(items)} for {where}, expecting {count}")
    out = np.empty(count, dtype=object)
    out[:] = items
    return out


def from_contents(contents, datatype: str, shape: list[int], where: str) -> np.ndarray:
    """Decode typed `InferTensorContents`: exactly the field for `datatype` may be set."""
    field = CONTENTS_FIELD.get(datatype)
    if field is None:
        raise InvalidRequestError(f"{datatype} data for {where} must be sent as raw_input_contents")
    others = [f.name for f, _ in contents.ListFields() if f.name != field]
    if others:
        raise InvalidRequestError(f"{where} has datatype {datatype}, which travels in '{field}', but the request "
                                  f"sets {', '.join(repr(o) for o in others)}")
    values = getattr(contents, field)
    count = element_count(shape)
    if len(values) != count:
        raise InvalidRequestError(
            f"unexpected number of elements in '{field}' for {where}. Expected {count}, got {len(values)}")
    if datatype == "BYTES":
        out = np.empty(count, dtype=object)
        out[:] = list(values)
        return out.reshape(shape)
    dtype = NUMPY[datatype]
    wide = np.asarray(values)
    if dtype.kind in "iu" and wide.size and (wide.min() < np.iinfo(dtype).min or wide.max() > np.iinfo(dtype).max):
        raise InvalidRequestError(f"a value in '{field}' for {where} does not fit in {datatype}")
    return wide.astype(dtype).reshape(shape)


def to_raw(array: np.ndarray, datatype: str) -> bytes:
    """Encode an output for `raw_output_contents`."""
    if datatype == "BYTES":
        parts = []
        for item in array.reshape(-1):
            # The runtime holds strings decoded with surrogateescape: encoding the same way gives back the bytes.
            data = item if isinstance(item, bytes) else str(item).encode("utf-8", errors="surrogateescape")
            parts.append(_LENGTH.pack(len(data)))
            parts.append(data)
        return b"".join(parts)
    return np.ascontiguousarray(array, dtype=NUMPY[datatype].newbyteorder("<")).tobytes()
