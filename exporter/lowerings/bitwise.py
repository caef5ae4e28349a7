"""The bit shifts, BitwiseLeftShift and BitwiseRightShift, with PyTorch's results for every integer dtype.

ONNX's BitShift takes unsigned integers only (PyTorch's own exporter uses it for uint8 and multiplies or divides by
powers of two otherwise, which rounds negative right shifts the wrong way). Here the operands are widened to int64
(which every runtime's comparisons and Where accept) and each shift runs on the bits as uint64: a left shift wraps
around exactly as PyTorch's, which shifts the bits as unsigned too, and a right shift of a negative ``a`` shifts the
non-negative ``-1 - a`` and maps the result back the same way, which keeps the sign bits. Shifts that PyTorch
defines specially (negative ones, and those not below the width) are picked out with Where, so BitShift never
sees a shift that it leaves undefined. The result is cast back to the operands' dtype, keeping its low bits.
"""

import numpy as np
from onnx import TensorProto

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering


def _int64(g, value) -> str:
    return value if g.dtype(value) == np.int64 else g.op("Cast", value, to=TensorProto.INT64)


def _number(g, value: int) -> str:
    return g.const(np.int64(value))


def _shift_bits(g, value, shift, direction: str) -> str:
    """The bits of ``value`` (int64) shifted as uint64 by ``shift`` (0 to 63), as int64."""
    as_bits = g.op("Cast", value, to=TensorProto.UINT64)
    shifted = g.op("BitShift", as_bits, g.op("Cast", shift, to=TensorProto.UINT64), direction=direction)
    return g.op("Cast", shifted, to=TensorProto.INT64)


def _to(g, value, dtype) -> str:
    return value if dtype == np.int64 else g.op("Cast", value, to=onnx_dtype(dtype))


@lowering("BitwiseLeftShift")
def left_shift(g, a, b):
    dtype = g.dtype(a)
    a, b = _int64(g, a), _int64(g, b)
    in_range = g.op("And", g.op("GreaterOrEqual", b, _number(g, 0)), g.op("Less", b, _number(g, dtype.itemsize * 8)))
    shifted = _shift_bits(g, a, g.op("Where", in_range, b, _number(g, 0)), "LEFT")
    return _to(g, g.op("Where", in_range, shifted, _number(g, 0)), dtype)


@lowering("BitwiseRightShift")
def right_shift(g, a, b):
    dtype = g.dtype(a)
    # unsigned values are non-negative in int64, where a shift past their own width already gives 0
    width = dtype.itemsize * 8 if dtype.kind == "i" else 64
    a, b = _int64(g, a), _int64(g, b)
    # a negative shift, or one past the sign bit, fills every bit with the sign
    out_of_range = g.op("Or", g.op("Less", b, _number(g, 0)), g.op("GreaterOrEqual", b, _number(g, width)))
    shift = g.op("Where", out_of_range, _number(g, width - 1), b)
    negative = g.op("Less", a, _number(g, 0))
    magnitude = g.op("Where", negative, g.op("Sub", _number(g, -1), a), a)  # -1 - a never overflows, unlike -a
    shifted = _shift_bits(g, magnitude, shift, "RIGHT")
    return _to(g, g.op("Where", negative, g.op("Sub", _number(g, -1), shifted), shifted), dtype)
