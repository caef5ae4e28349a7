"""``finfo`` and ``iinfo``: the numerical limits of a dtype, with PyTorch's field names."""

from __future__ import annotations

import ml_dtypes
import numpy as np

from trainer import dtypes


class finfo:  # noqa: N801 - PyTorch's name
    """Limits of a floating point dtype (the default dtype when none is given).

    ``resolution`` is PyTorch's "approximate decimal resolution", ``10 ** -precision``; ``tiny`` is an alias of
    ``smallest_normal``, the smallest positive normal number."""

    __slots__ = ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution", "dtype")

    def __init__(self, type: dtypes.dtype | None = None):  # noqa: A002 - PyTorch's keyword
        type = dtypes.get_default_dtype() if type is None else _require_dtype(type, "finfo")
        if not type.is_floating_point:
            raise TypeError("trainer.finfo() requires a floating point input type. Use trainer.iinfo to handle "
                            f"'{type!r}'")
        info = array_finfo(type.np)
        self.bits = int(info.bits)
        self.eps = float(info.eps)
        self.max = float(info.max)
        self.min = float(info.min)
        self.smallest_normal = float(info.smallest_normal)
        self.tiny = self.smallest_normal
        self.resolution = 10.0 ** -int(info.precision)
        self.dtype = type.name

    def __eq__(self, other):
        return isinstance(other, finfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("finfo", self.dtype))

    def __repr__(self):
        return (f"finfo(resolution={self.resolution:g}, min={self.min:g}, max={self.max:g}, eps={self.eps:g}, "
                f"smallest_normal={self.smallest_normal:g}, tiny={self.tiny:g}, dtype={self.dtype})")


class iinfo:  # noqa: N801 - PyTorch's name
    """Limits of an integer dtype."""

    __slots__ = ("bits", "max", "min", "dtype")

    def __init__(self, type: dtypes.dtype):  # noqa: A002 - PyTorch's keyword
        type = _require_dtype(type, "iinfo")
        if type is dtypes.bool:
            raise TypeError("trainer.bool is not supported by trainer.iinfo")
        if type.is_floating_point:
            raise TypeError("trainer.iinfo() requires an integer input type. Use trainer.finfo to handle "
                            f"'{type!r}'")
        info = np.iinfo(type.np)
        self.bits = int(info.bits)
        self.max = int(info.max)
        self.min = int(info.min)
        self.dtype = type.name

    def __eq__(self, other):
        return isinstance(other, iinfo) and self.dtype == other.dtype

    def __hash__(self):
        return hash(("iinfo", self.dtype))

    def __repr__(self):
        return f"iinfo(min={self.min}, max={self.max}, dtype={self.dtype})"


def _require_dtype(value, name: str) -> dtypes.dtype:
    if not isinstance(value, dtypes.dtype):
        raise TypeError(f"{name}(): argument 'type' (position 1) must be trainer.dtype, not {type(value).__name__}")
    return value


def array_finfo(np_dtype) -> ml_dtypes.finfo:
    """The limits (``eps``, ``tiny``, ``min``, ``max``...) of a NumPy floating or complex array dtype, bfloat16
    included: NumPy's own ``finfo`` raises on ml_dtypes' bfloat16, which every internal limit must go through."""
    return ml_dtypes.finfo(np_dtype)
