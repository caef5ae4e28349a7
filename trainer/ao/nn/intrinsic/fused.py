"""The fused containers of ``torch.ao.nn.intrinsic``: a ``Sequential`` of the float modules that quantization will
treat as one unit (``ConvBnReLU2d(conv, bn, relu)``). Each checks the exact types of its parts, as PyTorch's does;
``prepare_qat`` swaps them for their quantization-aware versions in ``trainer.ao.nn.intrinsic.qat``."""

from __future__ import annotations

from trainer.nn.modules.activation import ReLU
from trainer.nn.modules.batchnorm import BatchNorm1d, BatchNorm2d, BatchNorm3d
from trainer.nn.modules.container import Sequential
from trainer.nn.modules.conv import Conv1d, Conv2d, Conv3d
from trainer.nn.modules.linear import Linear
from trainer.nn.utils.parametrize import type_before_parametrizations

__all__ = [
    "BNReLU2d",
    "BNReLU3d",
    "ConvBn1d",
    "ConvBn2d",
    "ConvBn3d",
    "ConvBnReLU1d",
    "ConvBnReLU2d",
    "ConvBnReLU3d",
    "ConvReLU1d",
    "ConvReLU2d",
    "ConvReLU3d",
    "LinearBn1d",
    "LinearReLU",
]


class _FusedModule(Sequential):
    """Marks a container whose modules are quantized as one."""

    _PARTS: tuple[type, ...] = ()

    def __init__(self, *modules):
        found = tuple(type_before_parametrizations(m) for m in modules)
        if found != self._PARTS:
            names = [t.__name__ for t in found]
            listed = " and ".join(names) if len(names) < 3 else ", ".join(names[:-1]) + ", and " + names[-1]
            expected = ", ".join(t.__name__ for t in self._PARTS)
            raise AssertionError(f"Incorrect types for input modules: {listed} (a {type(self).__name__} fuses "
                                 f"{expected})")
        super().__init__(*modules)


def _fused(name: str, parts: tuple[type, ...], what: str) -> type:
    return type(name, (_FusedModule,), {"_PARTS": parts, "__doc__": f"A sequential container calling {what}; "
                                        "quantization replaces it with the corresponding fused module.",
                                        "__module__": __name__})


ConvReLU1d = _fused("ConvReLU1d", (Conv1d, ReLU), "Conv1d and ReLU")
ConvReLU2d = _fused("ConvReLU2d", (Conv2d, ReLU), "Conv2d and ReLU")
ConvReLU3d = _fused("ConvReLU3d", (Conv3d, ReLU), "Conv3d and ReLU")
LinearReLU = _fused("LinearReLU", (Linear, ReLU), "Linear and ReLU")
ConvBn1d = _fused("ConvBn1d", (Conv1d, BatchNorm1d), "Conv1d and BatchNorm1d")
ConvBn2d = _fused("ConvBn2d", (Conv2d, BatchNorm2d), "Conv2d and BatchNorm2d")
ConvBn3d = _fused("ConvBn3d", (Conv3d, BatchNorm3d), "Conv3d and BatchNorm3d")
ConvBnReLU1d = _fused("ConvBnReLU1d", (Conv1d, BatchNorm1d, ReLU), "Conv1d, BatchNorm1d and ReLU")
ConvBnReLU2d = _fused("ConvBnReLU2d", (Conv2d, BatchNorm2d, ReLU), "Conv2d, BatchNorm2d and ReLU")
ConvBnReLU3d = _fused("ConvBnReLU3d", (Conv3d, BatchNorm3d, ReLU), "Conv3d, BatchNorm3d and ReLU")
BNReLU2d = _fused("BNReLU2d", (BatchNorm2d, ReLU), "BatchNorm2d and ReLU")
BNReLU3d = _fused("BNReLU3d", (BatchNorm3d, ReLU), "BatchNorm3d and ReLU")
LinearBn1d = _fused("LinearBn1d", (Linear, BatchNorm1d), "Linear and BatchNorm1d")
