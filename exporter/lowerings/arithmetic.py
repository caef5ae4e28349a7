"""Add, Sub, Mul, Div, Pow, Neg, Python's rounding division and modulo, C's fmod, atan2, hypot and lerp."""

import math

from exporter.lowerings import lowering
from trainer import dtypes

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow"}


@lowering(*_BINARY)
def binary(g, a, b):
    return g.op(_BINARY[g.op_name], a, b)


@lowering("Neg")
def neg(g, a):
    return g.op("Neg", a)


def _floating(g, name) -> bool:
    return dtypes.is_floating(g.dtype(name))  # bfloat16 included (its NumPy kind is "V")


@lowering("FloorDiv")
def floor_div(g, a, b):
    if _floating(g, a):
        return g.op("Floor", g.op("Div", a, b))
    # Mod with fmod=0 takes the divisor's sign, as Python does, so a - a % b divides exactly
    return g.op("Div", g.op("Sub", a, g.op("Mod", a, b, fmod=0)), b)


@lowering("TruncDiv")
def trunc_div(g, a, b):
    if not _floating(g, a):
        return g.op("Div", a, b)  # ONNX's integer division truncates
    q = g.op("Div", a, b)
    return g.op("Mul", g.op("Sign", q), g.op("Floor", g.op("Abs", q)))


@lowering("Remainder")
def remainder(g, a, b):
    if not _floating(g, a):
        return g.op("Mod", a, b, fmod=0)
    # ONNX's float Mod is C's fmod (the dividend's sign); Python's is a - b * floor(a / b)
    return g.op("Sub", a, g.op("Mul", b, g.op("Floor", g.op("Div", a, b))))


@lowering("Fmod")
def fmod(g, a, b):
    return g.op("Mod", a, b, fmod=1)


@lowering("Atan2")
def atan2(g, a, b):
    # atan(a / b), moved by +-pi into the left half-plane; b == 0 gives +-pi/2 by the sign of a (0 at the origin)
    zero = g.like(0.0, a)
    quotient = g.op("Atan", g.op("Div", a, g.op("Where", g.op("Equal", b, zero), g.like(1.0, b), b)))
    sign_a = g.op("Where", g.op("Less", a, zero), g.like(-1.0, a), g.like(1.0, a))
    left = g.op("Add", quotient, g.op("Mul", sign_a, g.like(math.pi, a)))
    upright = g.op("Mul", g.op("Sign", a), g.like(math.pi / 2, a))
    out = g.op("Where", g.op("Less", b, zero), left, quotient)
    return g.op("Where", g.op("Equal", b, zero), upright, out)


@lowering("Hypot")
def hypot(g, a, b):
    return g.op("Sqrt", g.op("Add", g.op("Mul", a, a), g.op("Mul", b, b)))


@lowering("Lerp")
def lerp(g, start, end, weight=None, scalar=None):
    weight = g.like(scalar, start) if weight is None else weight
    return g.op("Add", start, g.op("Mul", weight, g.op("Sub", end, start)))
