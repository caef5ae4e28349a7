"""DLPack exchange: ``from_dlpack`` makes a tensor that shares the memory of any DLPack producer (a PyTorch tensor,
a NumPy or CuPy array, a legacy ``dltensor`` capsule), and ``Tensor.__dlpack__`` / ``__dlpack_device__`` let any
consumer (``torch.from_dlpack``, ``numpy.from_dlpack``, ``cupy.from_dlpack``) share a tensor's memory.

trainer's arrays are NumPy or CuPy arrays, which implement the protocol themselves: everything here delegates to
them, choosing NumPy for host memory and CuPy for CUDA memory.
"""

from __future__ import annotations

import ctypes
import weakref

import numpy as np

from trainer import dtypes
from trainer.backend import _cupy, as_device
from trainer.tensor import Tensor

# DLPack's DLDeviceType codes for the memory trainer can hold
_HOST_DEVICES = {1, 3}  # kDLCPU, kDLCUDAHost (pinned host memory NumPy can read)
_CUDA_DEVICES = {2, 13}  # kDLCUDA, kDLCUDAManaged

_capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_capsule_pointer.restype = ctypes.c_void_p
_capsule_pointer.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_is_valid = ctypes.pythonapi.PyCapsule_IsValid
_capsule_is_valid.restype = ctypes.c_int
_capsule_is_valid.argtypes = [ctypes.py_object, ctypes.c_char_p]
_capsule_set_name = ctypes.pythonapi.PyCapsule_SetName
_capsule_set_name.restype = ctypes.c_int
_capsule_set_name.argtypes = [ctypes.py_object, ctypes.c_char_p]
_USED = ctypes.create_string_buffer(b"used_dltensor")  # the capsule keeps a pointer to its name: never freed


class _DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32),
                ("ndim", ctypes.c_int32), ("code", ctypes.c_uint8), ("bits", ctypes.c_uint8),
                ("lanes", ctypes.c_uint16), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


_Deleter = ctypes.CFUNCTYPE(None, ctypes.c_void_p)


class _DLManagedTensor(ctypes.Structure):
    _fields_ = [("dl_tensor", _DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", _Deleter)]


_TYPE_CODES = {0: "i", 1: "u", 2: "f", 5: "c"}  # kDLInt, kDLUInt, kDLFloat, kDLComplex


def _element_dtype(tensor: _DLTensor) -> np.dtype:
    if tensor.lanes != 1:
        raise BufferError(f"from_dlpack: vector elements ({tensor.lanes} lanes) are not supported")
    if tensor.code == 6 and tensor.bits == 8:  # kDLBool
        return np.dtype(np.bool_)
    if tensor.code == 4 and tensor.bits == 16:  # kDLBfloat
        return dtypes.bfloat16.np
    if tensor.code not in _TYPE_CODES:
        raise BufferError(f"from_dlpack: DLPack type code {tensor.code} with {tensor.bits} bits is not supported")
    return np.dtype(f"{_TYPE_CODES[tensor.code]}{tensor.bits // 8}")


def _capsule_array(capsule):
    """The array over a legacy ``dltensor`` capsule's memory, taking ownership as the protocol asks: the capsule is
    renamed ``used_dltensor`` and its producer's deleter runs once the array's memory is no longer referenced.
    NumPy would import such a capsule read-only; PyTorch's tensors from it are writable, and so are trainer's."""
    if not _capsule_is_valid(capsule, b"dltensor"):
        raise RuntimeError("from_dlpack received an invalid capsule. Note that DLTensor capsules can be consumed "
                           "only once, so you might have already constructed a tensor from it once.")
    address = _capsule_pointer(capsule, b"dltensor")
    managed = _DLManagedTensor.from_address(address)
    tensor = managed.dl_tensor
    if tensor.device_type in _CUDA_DEVICES:
        return _cupy().from_dlpack(capsule)
    if tensor.device_type not in _HOST_DEVICES:
        raise BufferError(f"from_dlpack: DLPack device type {tensor.device_type} is not supported; trainer holds "
                          "CPU (1) and CUDA (2) memory")
    dtype = _element_dtype(tensor)
    shape = [tensor.shape[i] for i in range(tensor.ndim)]
    steps = [tensor.strides[i] for i in range(tensor.ndim)] if tensor.strides else None
    if steps is None:  # no strides: C-contiguous
        steps = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    empty = 0 in shape
    low = 0 if empty else sum(min(0, s * (n - 1)) for s, n in zip(steps, shape)) * dtype.itemsize
    high = 0 if empty else sum(max(0, s * (n - 1)) for s, n in zip(steps, shape)) * dtype.itemsize + dtype.itemsize
    memory = (ctypes.c_char * (high - low)).from_address((tensor.data or 0) + tensor.byte_offset + low)
    _capsule_set_name(capsule, _USED)
    if managed.deleter:
        weakref.finalize(memory, managed.deleter, address)
    return np.ndarray(shape, dtype, buffer=memory, offset=-low, strides=[s * dtype.itemsize for s in steps])


def _shared_array(producer):
    """The NumPy or CuPy array over the producer's memory."""
    if type(producer).__name__ == "PyCapsule":
        return _capsule_array(producer)
    if not hasattr(producer, "__dlpack__"):
        raise TypeError(f"from_dlpack expects an object implementing the DLPack protocol (__dlpack__ and "
                        f"__dlpack_device__) or a DLPack capsule, got {type(producer).__name__}")
    kind, _ = producer.__dlpack_device__()
    if int(kind) in _HOST_DEVICES:
        return np.from_dlpack(producer)
    if int(kind) in _CUDA_DEVICES:
        return _cupy().from_dlpack(producer)
    raise BufferError(f"from_dlpack: DLPack device type {int(kind)} is not supported; trainer holds CPU (1) and "
                      f"CUDA (2) memory")


def from_dlpack(ext_tensor, *, device=None, copy=None) -> Tensor:
    """A tensor sharing ``ext_tensor``'s memory; ``device`` moves it (a copy) and ``copy=True`` always copies."""
    tensor = Tensor._wrap(_shared_array(ext_tensor))
    if device is not None and as_device(device) != tensor.device:
        if copy is False:
            raise BufferError(f"from_dlpack: moving the data from {tensor.device} to {as_device(device)} needs a "
                              "copy, but copy=False was asked for")
        return tensor.to(device)
    return tensor.clone() if copy else tensor


def to_dlpack(tensor: Tensor):
    """A legacy ``dltensor`` capsule over the tensor's memory, as ``torch.utils.dlpack.to_dlpack``."""
    return tensor_dlpack(tensor)


def tensor_dlpack(tensor: Tensor, *, stream=None, max_version=None, dl_device=None, copy=None):
    """``Tensor.__dlpack__``: the capsule of the underlying array; tensors that require grad are refused, as in
    PyTorch, since a consumer would write past autograd."""
    if tensor.requires_grad:
        raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
    given = {"stream": stream, "max_version": max_version, "dl_device": dl_device, "copy": copy}
    return tensor._data.__dlpack__(**{name: value for name, value in given.items() if value is not None})


def tensor_dlpack_device(tensor: Tensor):
    """``Tensor.__dlpack_device__``: ``(device type, device index)`` of the underlying array."""
    return tensor._data.__dlpack_device__()
