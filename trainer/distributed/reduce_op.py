"""``ReduceOp``: how collectives combine the ranks' values, with the elementwise function of each and the dtypes
PyTorch's gloo backend accepts for it."""

from __future__ import annotations

import enum

from trainer.dtypes import is_inexact


class RedOpType(enum.Enum):
    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7


class ReduceOp:
    """The reductions: ``ReduceOp.SUM``, ``AVG``, ``PRODUCT``, ``MIN``, ``MAX``, ``BAND``, ``BOR``, ``BXOR``."""

    RedOpType = RedOpType
    SUM = RedOpType.SUM
    AVG = RedOpType.AVG
    PRODUCT = RedOpType.PRODUCT
    MIN = RedOpType.MIN
    MAX = RedOpType.MAX
    BAND = RedOpType.BAND
    BOR = RedOpType.BOR
    BXOR = RedOpType.BXOR


# combines two arrays of one dtype; AVG sums here and divides once at the end
_COMBINE = {
    RedOpType.SUM: lambda xp, a, b: a + b,
    RedOpType.AVG: lambda xp, a, b: a + b,
    RedOpType.PRODUCT: lambda xp, a, b: a * b,
    RedOpType.MIN: lambda xp, a, b: xp.minimum(a, b),
    RedOpType.MAX: lambda xp, a, b: xp.maximum(a, b),
    RedOpType.BAND: lambda xp, a, b: a & b,
    RedOpType.BOR: lambda xp, a, b: a | b,
    RedOpType.BXOR: lambda xp, a, b: a ^ b,
}

# PyTorch's C++ names of the integral dtypes, as its messages print them
_SCALAR_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
                      "bool": "Bool"}
_BITWISE = (RedOpType.BAND, RedOpType.BOR, RedOpType.BXOR)


def as_reduce_op(op) -> RedOpType:
    if not isinstance(op, RedOpType):
        raise TypeError(f"op must be a torch.distributed.ReduceOp (e.g. ReduceOp.SUM), got {op!r}")
    return op


def check_reduce_op(op: RedOpType, dtype, collective: str) -> None:
    """Raise PyTorch's errors for a reduction that the dtype does not allow."""
    if dtype.kind == "c" and op not in (RedOpType.SUM, RedOpType.AVG):
        raise ValueError(f"{collective} does not support {op} on complex tensors")
    if op in _BITWISE and is_inexact(dtype):
        raise RuntimeError(f"Cannot use ReduceOp.{op.name} with non-integral dtype")
    if op is RedOpType.AVG and not is_inexact(dtype):
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_SCALAR_TYPE_NAMES.get(dtype.name, dtype.name)}")


def combine(op: RedOpType, xp, a, b):
    return _COMBINE[op](xp, a, b)
