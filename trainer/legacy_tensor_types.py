"""PyTorch's legacy typed tensor classes (``FloatTensor``, ``LongTensor``, ...), ``Tensor.type`` and
``set_default_tensor_type``.

Each legacy class is a CPU tensor type: calling it builds a CPU tensor of its dtype, and
``isinstance(x, FloatTensor)`` holds exactly when ``x`` is a float32 tensor on the CPU, through the
metaclass's ``__instancecheck__``. Type names are PyTorch's (``"torch.FloatTensor"``,
``"torch.cuda.LongTensor"``), so strings written for PyTorch keep working.
"""

from __future__ import annotations

import warnings

import numpy as np

import trainer
from trainer import dtypes
from trainer.backend import CPU, as_device

_TYPE_NAMES = {
    dtypes.float32: "FloatTensor",
    dtypes.float64: "DoubleTensor",
    dtypes.float16: "HalfTensor",
    dtypes.int64: "LongTensor",
    dtypes.int32: "IntTensor",
    dtypes.int16: "ShortTensor",
    dtypes.int8: "CharTensor",
    dtypes.uint8: "ByteTensor",
    dtypes.bool: "BoolTensor",
}
_DTYPES_BY_NAME = {name: dt for dt, name in _TYPE_NAMES.items()}


class LegacyTensorType(type):
    """The metaclass of the legacy classes: instance checks by dtype and device, calls build tensors."""

    dtype: dtypes.dtype

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, trainer.Tensor) and obj.dtype is cls.dtype and obj.device.type == "cpu"

    def __repr__(cls):
        return f"<class 'torch.{cls.__name__}'>"

    def __call__(cls, *args, device=None):
        """``FloatTensor()`` (empty), ``FloatTensor(2, 3)`` or ``FloatTensor(Size)`` (uninitialised),
        ``FloatTensor(data)`` (a copy of nested numbers or an array), ``FloatTensor(tensor)`` (a view of a tensor
        of this very type)."""
        if device is not None and as_device(device).type != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{as_device(device).type} was passed")
        return legacy_new(cls.dtype, CPU, args)


def legacy_new(dtype: dtypes.dtype, device, args):
    """PyTorch's legacy constructor for ``dtype`` on ``device``: no arguments (an empty tensor), sizes
    (uninitialised), one sequence or array of data (a copy), or one tensor of that very type (a view of it)."""
    if not args:
        return trainer.empty(0, dtype=dtype, device=device)
    if len(args) == 1 and isinstance(args[0], trainer.Tensor):
        other = args[0]
        if other.dtype is not dtype or other.device != device:
            raise TypeError(f"expected {tensor_type_name(dtype, device)} (got {other.type()})")
        return other.view(other.shape)
    if all(isinstance(a, (int, np.integer)) for a in args) or (len(args) == 1 and isinstance(args[0], trainer.Size)):
        return trainer.empty(*args, dtype=dtype, device=device)
    if len(args) > 1:
        raise TypeError(f"new() takes either sizes (ints) or one sequence of data, got "
                        f"{', '.join(type(a).__name__ for a in args)}")
    if not isinstance(args[0], (list, tuple, np.ndarray)):
        raise TypeError(f"new(): data must be a sequence (got {type(args[0]).__name__})")
    return trainer.tensor(args[0], dtype=dtype, device=device)


def _legacy_class(dt: dtypes.dtype) -> LegacyTensorType:
    return LegacyTensorType(_TYPE_NAMES[dt], (), {"dtype": dt, "is_cuda": False, "__module__": "trainer",
                                                   "__doc__": f"Legacy CPU tensor type of dtype {dt.name}."})


FloatTensor = _legacy_class(dtypes.float32)
DoubleTensor = _legacy_class(dtypes.float64)
HalfTensor = _legacy_class(dtypes.float16)
LongTensor = _legacy_class(dtypes.int64)
IntTensor = _legacy_class(dtypes.int32)
ShortTensor = _legacy_class(dtypes.int16)
CharTensor = _legacy_class(dtypes.int8)
ByteTensor = _legacy_class(dtypes.uint8)
BoolTensor = _legacy_class(dtypes.bool)


def tensor_type_name(dt: dtypes.dtype, device) -> str:
    """PyTorch's name for a dtype on a device: ``"torch.FloatTensor"``, ``"torch.cuda.LongTensor"``."""
    return f"torch.{'cuda.' if device.type == 'cuda' else ''}{_TYPE_NAMES[dt]}"


def parse_tensor_type(spec):
    """``(dtype, device type)`` for a legacy class, a dtype or a name such as ``"torch.cuda.FloatTensor"``
    (``"trainer."`` is accepted in place of ``"torch."``); the device type is None for a plain dtype."""
    if isinstance(spec, LegacyTensorType):
        return spec.dtype, "cpu"
    if isinstance(spec, dtypes.dtype):
        return spec, None
    if isinstance(spec, str):
        module, _, name = spec.rpartition(".")
        if module in ("torch", "trainer", "torch.cuda", "trainer.cuda") and name in _DTYPES_BY_NAME:
            return _DTYPES_BY_NAME[name], "cuda" if module.endswith("cuda") else "cpu"
        raise ValueError(f"invalid type: '{spec}'")
    raise ValueError(f"invalid type: '{getattr(spec, '__name__', type(spec).__name__)}'")


def tensor_type(self, dtype=None, non_blocking: bool = False, **kwargs):
    """``Tensor.type()``: the type name, or with an argument the tensor converted to that type (``self`` when it
    already is of it). ``non_blocking`` is accepted for PyTorch's signature; copies are synchronous here."""
    if dtype is None:
        return tensor_type_name(self.dtype, self.device)
    dt, device_type = parse_tensor_type(dtype)
    if device_type is None or device_type == self.device.type:
        return self.to(dt)
    return self.to(device=device_type, dtype=dt)


def set_default_tensor_type(t) -> None:
    """PyTorch's deprecated form of ``set_default_dtype``: ``"torch.DoubleTensor"`` makes float64 the default
    float dtype; a CUDA type (``"torch.cuda.FloatTensor"``) also makes CUDA the default device."""
    warnings.warn("trainer.set_default_tensor_type() is deprecated as in PyTorch 2.1, please use "
                  "trainer.set_default_dtype() and trainer.set_default_device() as alternatives.", UserWarning,
                  stacklevel=2)
    if isinstance(t, str):
        try:
            dt, device_type = parse_tensor_type(t)
        except ValueError:
            raise AttributeError(f"unknown tensor type {t!r}; expected a name such as 'torch.FloatTensor' or "
                                 "'torch.cuda.DoubleTensor'") from None
    elif isinstance(t, LegacyTensorType):
        dt, device_type = t.dtype, "cpu"
    else:
        raise TypeError(f"invalid type object: expected a tensor type such as trainer.DoubleTensor or its name, "
                        f"got {t!r}")
    if not dt.is_floating_point:
        raise TypeError("invalid type object: only floating-point types are supported as the default type")
    if device_type == "cuda":
        trainer.set_default_device("cuda")
    dtypes.set_default_dtype(dt)


def is_storage(obj) -> bool:
    """Whether ``obj`` is a storage (``trainer.UntypedStorage``, ``trainer.TypedStorage``)."""
    return trainer.storage.is_storage(obj)
