"""Add, Sub, Mul, Div, Pow, Neg, and Python's rounding division and modulo."""

from exporter.lowerings import lowering

_BINARY = {"Add": "Add", "Sub": "Sub", "Mul": "Mul", "Div": "Div", "Pow": "Pow"}


@lowering(*_BINARY)
def binary(g, a, b):
    return g.op(_BINARY[g.op_name], a, b)


@lowering("Neg")
def neg(g, a):
    return g.op("Neg", a)


def _floating(g, name) -> bool:
    return g.dtype(name).kind == "f"


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
