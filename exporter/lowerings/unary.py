"""Elementwise functions of one tensor: Abs, Exp, Log, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid, Relu, Clip."""

from exporter.lowerings import lowering

_SAME_NAME = ("Abs", "Exp", "Log", "Sqrt", "Sin", "Cos", "Tanh", "Sigmoid", "Relu")


@lowering(*_SAME_NAME)
def elementwise(g, a):
    return g.op(g.op_name, a)


@lowering("Rsqrt")
def rsqrt(g, a):
    return g.op("Reciprocal", g.op("Sqrt", a))


@lowering("Clip")
def clip(g, a, min=None, max=None):
    return g.op("Clip", a, "" if min is None else g.like(min, a), "" if max is None else g.like(max, a))
