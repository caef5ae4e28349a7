"""Comparisons, logic and bitwise ops, Max/Min of two tensors, Where."""

from exporter.lowerings import lowering

_SAME_NAME = ("Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor", "Not", "Where")
_BITWISE = ("BitwiseAnd", "BitwiseOr", "BitwiseXor", "BitwiseNot")


@lowering(*_SAME_NAME)
def same_name(g, *inputs):
    return g.op(g.op_name, *inputs)


@lowering("NotEqual")
def not_equal(g, a, b):
    return g.op("Not", g.op("Equal", a, b))


@lowering(*_BITWISE)
def bitwise(g, *inputs):
    g.require(18, g.op_name)
    return g.op(g.op_name, *inputs)


@lowering("Maximum", "Minimum")
def extremum(g, a, b):
    return g.op("Max" if g.op_name == "Maximum" else "Min", a, b)
