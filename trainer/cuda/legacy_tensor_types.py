"""``trainer.cuda.FloatTensor`` and the other legacy CUDA tensor types, beside the CPU ones in
``trainer.legacy_tensor_types``: calling one builds a CUDA tensor of its dtype, and ``isinstance`` holds for tensors
of that dtype on a CUDA device. Without CUDA the classes exist but cannot build tensors, as in PyTorch's CPU-only
build."""

from __future__ import annotations

import trainer
from trainer.backend import device
from trainer.cuda.device_management import require_cuda
from trainer.legacy_tensor_types import _TYPE_NAMES, legacy_new


class CudaLegacyTensorType(type):
    """The metaclass of the legacy CUDA classes: instance checks by dtype and device, calls build CUDA tensors."""

    def __instancecheck__(cls, obj) -> bool:
        return isinstance(obj, trainer.Tensor) and obj.dtype is cls.dtype and obj.device.type == "cuda"

    def __repr__(cls):
        return f"<class 'torch.cuda.{cls.__name__}'>"

    def __call__(cls, *args):
        """As the CPU classes (``FloatTensor(2, 3)``, ``FloatTensor(data)``, ...), on the current CUDA device."""
        try:
            require_cuda(TypeError)
        except TypeError as exc:
            raise TypeError(f"type torch.cuda.{cls.__name__} not available: {exc}") from None
        return legacy_new(cls.dtype, device("cuda", trainer.cuda.current_device()), args)


def _legacy_class(name: str, dt) -> CudaLegacyTensorType:
    return CudaLegacyTensorType(name, (), {"dtype": dt, "is_cuda": True, "__module__": "trainer.cuda",
                                           "__doc__": f"Legacy CUDA tensor type of dtype {dt.name}."})


_CLASSES = {name: _legacy_class(name, dt) for dt, name in _TYPE_NAMES.items()}
FloatTensor = _CLASSES["FloatTensor"]
DoubleTensor = _CLASSES["DoubleTensor"]
HalfTensor = _CLASSES["HalfTensor"]
LongTensor = _CLASSES["LongTensor"]
IntTensor = _CLASSES["IntTensor"]
ShortTensor = _CLASSES["ShortTensor"]
CharTensor = _CLASSES["CharTensor"]
ByteTensor = _CLASSES["ByteTensor"]
BoolTensor = _CLASSES["BoolTensor"]
