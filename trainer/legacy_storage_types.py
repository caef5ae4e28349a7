"""PyTorch's legacy storage classes (``FloatStorage``, ``LongStorage``, ...): calling one makes a CPU
``TypedStorage`` of its dtype, and ``isinstance`` checks a ``TypedStorage``'s dtype and device, as in PyTorch."""

from __future__ import annotations

import collections.abc

import numpy as np

from trainer import dtypes
from trainer.storage import TypedStorage, UntypedStorage, _warn_typed_storage_removal

_NAMES = {
    dtypes.float64: "DoubleStorage",
    dtypes.float32: "FloatStorage",
    dtypes.float16: "HalfStorage",
    dtypes.int64: "LongStorage",
    dtypes.int32: "IntStorage",
    dtypes.int16: "ShortStorage",
    dtypes.int8: "CharStorage",
    dtypes.uint8: "ByteStorage",
    dtypes.bool: "BoolStorage",
    dtypes.bfloat16: "BFloat16Storage",
    dtypes.complex128: "ComplexDoubleStorage",
    dtypes.complex64: "ComplexFloatStorage",
}


def legacy_storage_name(dt: dtypes.dtype) -> str:
    return _NAMES[dt]


class LegacyStorageType(type):
    """The metaclass of the legacy storage classes."""

    dtype: dtypes.dtype

    def __instancecheck__(cls, obj) -> bool:
        return type(obj) is TypedStorage and obj.dtype == cls.dtype and obj._untyped_storage.device.type == "cpu"

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"

    def __call__(cls, *args, wrap_storage=None, dtype=None, device=None):
        _warn_typed_storage_removal()
        expected = (f"{cls!r}.__new__ received an invalid combination of arguments. Expected one of:\n"
                    " * no arguments\n * (int size)\n * (Sequence data)\n * (*, UntypedStorage wrap_storage)")
        if device is not None:
            raise RuntimeError(expected + "\nKeyword argument 'device' cannot be specified")
        if dtype is not None:
            raise RuntimeError(expected + "\nKeyword argument 'dtype' cannot be specified")
        if wrap_storage is not None:
            if args:
                raise RuntimeError(expected + "\nNo positional arguments should be given when using 'wrap_storage'")
            if not isinstance(wrap_storage, UntypedStorage):
                raise TypeError(expected + f"\nArgument 'wrap_storage' must be UntypedStorage, but got "
                                f"{type(wrap_storage)}")
            if wrap_storage.device.type != "cpu":
                raise RuntimeError(expected + f"\nDevice of 'wrap_storage' must be cpu, but got "
                                   f"{wrap_storage.device.type}")
            return TypedStorage(wrap_storage=wrap_storage, dtype=cls.dtype, _internal=True)
        if len(args) > 1:
            raise RuntimeError(expected + "\nToo many positional arguments")
        if args and not isinstance(args[0], (int, np.integer, collections.abc.Sequence)):
            raise TypeError(expected + f"\nArgument type not recognized: {type(args[0])}")
        return TypedStorage(*args, dtype=cls.dtype, device="cpu", _internal=True)


def _legacy_class(dt: dtypes.dtype) -> LegacyStorageType:
    return LegacyStorageType(_NAMES[dt], (TypedStorage,), {"dtype": dt, "__module__": "trainer"})


DoubleStorage = _legacy_class(dtypes.float64)
FloatStorage = _legacy_class(dtypes.float32)
HalfStorage = _legacy_class(dtypes.float16)
LongStorage = _legacy_class(dtypes.int64)
IntStorage = _legacy_class(dtypes.int32)
ShortStorage = _legacy_class(dtypes.int16)
CharStorage = _legacy_class(dtypes.int8)
ByteStorage = _legacy_class(dtypes.uint8)
BoolStorage = _legacy_class(dtypes.bool)
BFloat16Storage = _legacy_class(dtypes.bfloat16)
ComplexDoubleStorage = _legacy_class(dtypes.complex128)
ComplexFloatStorage = _legacy_class(dtypes.complex64)
