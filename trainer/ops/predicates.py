"""Questions about a tensor's values, dtype and shape: ``isneginf``, ``isposinf`` and ``isreal`` (bool tensors,
composed from the input's own values so that a traced graph keeps its run-time shape), and ``is_complex``,
``is_floating_point``, ``is_signed``, ``is_nonzero``, ``is_same_size`` (Python bools)."""

from __future__ import annotations

from trainer.ops.compare import eq, gt, logical_and, logical_or, lt
from trainer.ops.unary import isinf, isnan
from trainer.tensor import Tensor


def _require_tensor(op: str, name: str, position: int, value) -> None:
    if not isinstance(value, Tensor):
        raise TypeError(f"{op}(): argument '{name}' (position {position}) must be Tensor, not {type(value).__name__}")


def isneginf(input):
    _require_tensor("isneginf", "input", 1, input)
    return logical_and(isinf(input), lt(input, 0))


def isposinf(input):
    _require_tensor("isposinf", "input", 1, input)
    return logical_and(isinf(input), gt(input, 0))


def isreal(input):
    """Whether the imaginary part is 0; everywhere for a real tensor (``x == x`` is false only for NaN, which is real
    too)."""
    _require_tensor("isreal", "input", 1, input)
    if input._data.dtype.kind == "c":
        return eq(input.imag, 0)
    return logical_or(eq(input, input), isnan(input))


def is_complex(input) -> bool:
    _require_tensor("is_complex", "input", 1, input)
    return input._data.dtype.kind == "c"


def is_floating_point(input) -> bool:
    _require_tensor("is_floating_point", "input", 1, input)
    return input.is_floating_point()


def is_signed(input) -> bool:
    _require_tensor("is_signed", "input", 1, input)
    return input.dtype.is_signed


def is_nonzero(input) -> bool:
    """Whether the one value of ``input`` is not zero (NaN counts as nonzero)."""
    _require_tensor("is_nonzero", "input", 1, input)
    if input._data.size != 1:
        amount = "no values" if input._data.size == 0 else "more than one value"
        raise RuntimeError(f"Boolean value of Tensor with {amount} is ambiguous")
    return bool(input._data.reshape(()).item() != 0)


def is_same_size(input, other) -> bool:
    _require_tensor("is_same_size", "input", 1, input)
    _require_tensor("is_same_size", "other", 2, other)
    return input.shape == other.shape
