"""PyTorch's error for a dtype an op has no kernel for, such as ``"lshift_cpu" not implemented for 'Float'``."""

from __future__ import annotations

# the C++ scalar type names PyTorch's messages use
_SCALAR_TYPE_NAMES = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
                      "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double",
                      "bfloat16": "BFloat16", "complex64": "ComplexFloat", "complex128": "ComplexDouble"}


def scalar_type_name(dtype) -> str:
    """The name PyTorch's messages give ``dtype`` (``Long`` for int64, ``Float`` for float32)."""
    return _SCALAR_TYPE_NAMES[dtype.name]


def not_implemented_for(kernel: str, tensor, expected: str) -> NotImplementedError:
    """PyTorch's message for ``kernel`` on ``tensor``'s dtype and device, followed by what was ``expected``."""
    return NotImplementedError(f'"{kernel}_{tensor.device.type}" not implemented for '
                               f"'{scalar_type_name(tensor.dtype)}': {expected}, got {tensor.dtype.name}")
