"""``OrtValue``: a value placed on a device, as ONNX Runtime's ``OrtValue`` holds one.

On the CPU it wraps a NumPy array and shares its memory (as ONNX Runtime does with the array it was made from);
on CUDA it wraps a CuPy array, so runs and I/O bindings hand it to kernels without a host round trip.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from onnx import TensorProto, helper

from serving.errors import InvalidArgumentError
from serving.runtime.device import Device, to_host
from serving.runtime.types import elem_type_name


def device_for(device_type: str, device_id: int = 0) -> Device:
    """ONNX Runtime's (device_type, device_id) as a ``Device``: ("cpu", 0), ("cuda", N)."""
    if not isinstance(device_type, str) or device_type.lower() not in ("cpu", "cuda"):
        raise InvalidArgumentError(f"unknown device_type {device_type!r}: expected 'cpu' or 'cuda'")
    if not isinstance(device_id, int) or device_id < 0 or (device_type.lower() == "cpu" and device_id != 0):
        raise InvalidArgumentError(f"device_id must be 0 on the CPU or a CUDA device index, got {device_id!r}")
    return Device("cpu" if device_type.lower() == "cpu" else f"cuda:{device_id}")


def onnx_element_type(dtype: np.dtype) -> int:
    """The ``TensorProto`` element type of a NumPy dtype (object arrays hold strings)."""
    if dtype.kind in "OUS":
        return TensorProto.STRING
    return helper.np_dtype_to_tensor_dtype(dtype)


class OrtValue:
    """A tensor (or, as a run's output, a sequence of them) on a device."""

    __slots__ = ("_value", "_device")

    def __init__(self, value, device: Device | None = None):
        self._value = value
        self._device = device or Device("cpu")

    @classmethod
    def ortvalue_from_numpy(cls, numpy_obj, /, device_type: str = "cpu", device_id: int = 0) -> OrtValue:
        """A value holding ``numpy_obj``: the same memory on the CPU when it is contiguous, a copy on CUDA
        (a CuPy array already on that device is kept as it is)."""
        device = device_for(device_type, device_id)
        with device.scope():
            array = device.xp.asarray(numpy_obj)
            # Not ascontiguousarray: it turns a 0-d array into a 1-d one.
            return cls(array if array.flags.c_contiguous else array.copy(), device)

    @classmethod
    def ortvalue_from_shape_and_type(cls, shape: Sequence[int], element_type, device_type: str = "cpu",
                                     device_id: int = 0) -> OrtValue:
        """An uninitialised tensor; ``element_type`` is a NumPy type or an ONNX ``TensorProto`` element type."""
        dtype = np.dtype(helper.tensor_dtype_to_np_dtype(element_type) if isinstance(element_type, int)
                         else element_type)
        device = device_for(device_type, device_id)
        with device.scope():
            return cls(device.xp.empty(tuple(shape), dtype), device)

    def value(self):
        """The array (or list of arrays) this holds, on its device."""
        return self._value

    def device_name(self) -> str:
        return self._device.type

    def device(self) -> Device:
        return self._device

    def has_value(self) -> bool:
        return self._value is not None

    def is_tensor(self) -> bool:
        return self._value is not None and not isinstance(self._value, list)

    def is_sparse_tensor(self) -> bool:
        return False

    def is_tensor_sequence(self) -> bool:
        return isinstance(self._value, list)

    def _tensor(self):
        if not self.is_tensor():
            raise InvalidArgumentError(f"this OrtValue holds a {self.data_type()}, not a tensor")
        return self._value

    def shape(self) -> list[int]:
        return list(self._tensor().shape)

    def element_type(self) -> int:
        return onnx_element_type(self._tensor().dtype)

    def data_type(self) -> str:
        if self._value is None:
            return "optional"
        if isinstance(self._value, list):
            inner = OrtValue(self._value[0]).data_type() if self._value else "tensor(float)"
            return f"seq({inner})"
        return f"tensor({elem_type_name(self.element_type())})"

    def tensor_size_in_bytes(self) -> int:
        return int(self._tensor().nbytes)

    def data_ptr(self) -> int:
        tensor = self._tensor()
        return tensor.ctypes.data if isinstance(tensor, np.ndarray) else tensor.data.ptr

    def numpy(self):
        """The tensor as a NumPy array: its own memory on the CPU, a copy from a CUDA device."""
        if isinstance(self._value, list):
            raise InvalidArgumentError("numpy() needs a tensor; this OrtValue holds a sequence")
        return to_host(self._tensor())

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype, copy=False)

    def update_inplace(self, np_arr) -> None:
        """Overwrite the tensor's contents with ``np_arr`` (same shape and dtype), keeping its memory."""
        tensor = self._tensor()
        if tuple(np_arr.shape) != tuple(tensor.shape) or np_arr.dtype != tensor.dtype:
            raise InvalidArgumentError(
                f"update_inplace needs an array of shape {list(tensor.shape)} and dtype {tensor.dtype}, "
                f"got {list(np_arr.shape)} {np_arr.dtype}")
        with self._device.scope():
            tensor[...] = self._device.xp.asarray(np_arr)

    def __repr__(self) -> str:
        where = repr(self._device)
        if self.is_tensor():
            return f"OrtValue({self.data_type()}, shape={self.shape()}, device={where})"
        return f"OrtValue({self.data_type()}, device={where})"
