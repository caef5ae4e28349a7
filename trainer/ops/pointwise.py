"""Elementwise functions composed of existing differentiable ops: ``positive``, ``clamp_min``, ``clamp_max``,
``addcmul``, ``addcdiv`` and the NaN-ignoring ``fmax`` and ``fmin``. Their gradients and their ONNX export come
from the parts."""

from __future__ import annotations

from trainer.dtypes import is_floating
from trainer.ops._dtype_errors import not_implemented_for
from trainer.ops._operands import promote
from trainer.ops.arithmetic import add, div, mul
from trainer.ops.compare import ge, le, logical_or, where
from trainer.ops.unary import clamp, isnan
from trainer.tensor import Tensor


def _require_tensors(op: str, **arguments) -> None:
    """PyTorch's TypeError for an argument that must be a tensor and is not."""
    for position, (name, value) in enumerate(arguments.items(), start=1):
        if not isinstance(value, Tensor):
            raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, "
                            f"not {type(value).__name__}")


def positive(input):
    """``input`` itself (the same tensor, as in PyTorch); refused for bools, like unary ``+``."""
    _require_tensors("positive", input=input)
    if input._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def clamp_min(input, min):
    if min is None:
        raise TypeError("clamp_min(): argument 'min' must be a Tensor or a number, not None")
    return clamp(input, min=min)


def clamp_max(input, max):
    if max is None:
        raise TypeError("clamp_max(): argument 'max' must be a Tensor or a number, not None")
    return clamp(input, max=max)


def _scaled(tensor, value, integer: bool):
    """``value * tensor``; PyTorch truncates ``value`` to an integer when the result is an integer."""
    value = int(value) if integer else value
    return tensor if value == 1 else mul(tensor, value)


def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``, in PyTorch's order of operations."""
    _require_tensors("addcmul", input=input, tensor1=tensor1, tensor2=tensor2)
    input, tensor1, tensor2 = promote(input, tensor1, tensor2)
    kind = input._data.dtype.kind
    if kind == "b":
        raise not_implemented_for("addcmul", input, "addcmul expects integer or floating-point tensors")
    return add(input, mul(_scaled(tensor1, value, kind in "iu"), tensor2))


def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``, in PyTorch's order of operations; integer division is refused."""
    _require_tensors("addcdiv", input=input, tensor1=tensor1, tensor2=tensor2)
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError(
            "Integer division with addcdiv is no longer supported, and in a future release addcdiv will perform a "
            "true division of tensor1 and tensor2. The historic addcdiv behavior can be implemented as "
            "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for integer inputs and as "
            "(input + value * tensor1 / tensor2) for float inputs. The future addcdiv behavior is just the latter "
            "implementation: (input + value * tensor1 / tensor2), for all dtypes.")
    input, tensor1, tensor2 = promote(input, tensor1, tensor2)
    return add(input, div(_scaled(tensor1, value, integer=False), tensor2))


def _nan_ignoring(op: str, input, other, keeps_input):
    """``input`` where ``keeps_input(input, other)`` or ``other`` is NaN, else ``other``: a NaN loses to a number.
    The gradient follows the value, so ties go to ``input``, as in PyTorch."""
    _require_tensors(op, input=input, other=other)
    a, b = promote(input, other)
    keep = keeps_input(a, b)
    if is_floating(a._data.dtype):
        keep = logical_or(keep, isnan(b))
    return where(keep, a, b)


def fmax(input, other):
    return _nan_ignoring("fmax", input, other, ge)


def fmin(input, other):
    return _nan_ignoring("fmin", input, other, le)
