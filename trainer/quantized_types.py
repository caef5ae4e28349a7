"""PyTorch's quantized dtypes (``trainer.qint8``, ``trainer.quint8``, ``trainer.qint32``) and quantization schemes
(``trainer.per_tensor_affine`` ...), as markers that quantization-aware training's observers and fake-quantize
modules read.

Only ``trainer.quantized_tensor`` makes tensors of these dtypes (integers plus scale and zero point), so they stay
out of ``trainer.dtypes`` and are not ``trainer.dtype``s.
"""

from __future__ import annotations


class QuantizedDtype:
    """A quantized element type: the integer type it is stored as and that type's range."""

    __slots__ = ("name", "underlying", "min", "max")

    def __init__(self, name: str, underlying: str, lowest: int, highest: int):
        self.name, self.underlying, self.min, self.max = name, underlying, lowest, highest

    is_floating_point = False
    is_complex = False

    @property
    def is_signed(self) -> bool:
        return self.min < 0

    def __repr__(self):
        return f"trainer.{self.name}"

    def __reduce__(self):  # singletons, as dtypes are: unpickling gives the module's object back
        return self.name


class qscheme:  # noqa: N801 - PyTorch's public name
    """How a quantized tensor's scale and zero point are laid out: one for the tensor or one per channel."""

    __slots__ = ("name",)

    def __init__(self, name: str):
        self.name = name

    def __repr__(self):
        return f"trainer.{self.name}"

    def __reduce__(self):
        return self.name


qint8 = QuantizedDtype("qint8", "int8", -(2**7), 2**7 - 1)
quint8 = QuantizedDtype("quint8", "uint8", 0, 2**8 - 1)
qint32 = QuantizedDtype("qint32", "int32", -(2**31), 2**31 - 1)

per_tensor_affine = qscheme("per_tensor_affine")
per_channel_affine = qscheme("per_channel_affine")
per_tensor_symmetric = qscheme("per_tensor_symmetric")
per_channel_symmetric = qscheme("per_channel_symmetric")
per_channel_affine_float_qparams = qscheme("per_channel_affine_float_qparams")
