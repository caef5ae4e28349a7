"""Elementwise functions of one tensor: Abs, Exp, Log, Sqrt, Rsqrt, Sin, Cos, Tanh, Sigmoid, Relu, Clip, Erf,
the trigonometric and hyperbolic functions and their inverses, Reciprocal, log1p/expm1/log2/log10/exp2/erfc,
the rounding family (Sign, Floor, Ceil, Round, trunc and frac from them), IsNaN, IsInf and nan_to_num."""

import numpy as np

from exporter.lowerings import lowering
from trainer import dtypes
from trainer.type_info import array_finfo

_SAME_NAME = ("Abs", "Exp", "Log", "Sqrt", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "Erf", "Tan", "Asin", "Acos",
              "Atan", "Sinh", "Cosh", "Asinh", "Acosh", "Atanh", "Reciprocal")


@lowering(*_SAME_NAME)
def elementwise(g, a):
    return g.op(g.op_name, a)


@lowering("Log1p")
def log1p(g, a):
    return g.op("Log", g.op("Add", a, g.like(1.0, a)))


@lowering("Expm1")
def expm1(g, a):
    return g.op("Sub", g.op("Exp", a), g.like(1.0, a))


@lowering("Log2", "Log10")
def log_base(g, a):
    return g.op("Div", g.op("Log", a), g.like(np.log(2.0 if g.op_name == "Log2" else 10.0), a))


@lowering("Exp2")
def exp2(g, a):
    return g.op("Exp", g.op("Mul", a, g.like(np.log(2.0), a)))


@lowering("Erfc")
def erfc(g, a):
    return g.op("Sub", g.like(1.0, a), g.op("Erf", a))


@lowering("Rsqrt")
def rsqrt(g, a):
    return g.op("Reciprocal", g.op("Sqrt", a))


@lowering("Clip")
def clip(g, a, min=None, max=None):
    return g.op("Clip", a, "" if min is None else g.like(min, a), "" if max is None else g.like(max, a))


def _floating(g, a) -> bool:
    return dtypes.is_floating(g.dtype(a))  # bfloat16 included (its NumPy kind is "V")


@lowering("IsNaN", "IsInf", "IsFinite")
def float_check(g, a):
    if not _floating(g, a):  # an integer is never nan nor inf: x == x is all true
        same = g.op("Equal", a, a)
        return same if g.op_name == "IsFinite" else g.op("Not", same)
    if g.op_name != "IsFinite":
        return g.op(g.op_name, a)
    return g.op("Not", g.op("Or", g.op("IsNaN", a), g.op("IsInf", a)))


@lowering("NanToNum")
def nan_to_num(g, a, nan=0.0, posinf=None, neginf=None):
    limits = array_finfo(g.dtype(a))
    posinf = limits.max if posinf is None else posinf
    neginf = limits.min if neginf is None else neginf
    out = g.op("Where", g.op("IsInf", a, detect_negative=0), g.like(posinf, a), a)
    out = g.op("Where", g.op("IsInf", a, detect_positive=0), g.like(neginf, a), out)
    return g.op("Where", g.op("IsNaN", a), g.like(nan, a), out)


@lowering("Sign")
def sign(g, a):
    return g.op("Sign", a) if g.dtype(a).kind != "b" else g.op("Identity", a)


@lowering("Floor", "Ceil")
def floor_ceil(g, a):
    return g.op(g.op_name, a) if _floating(g, a) else g.op("Identity", a)


def _trunc(g, a):
    return g.op("Mul", g.op("Sign", a), g.op("Floor", g.op("Abs", a)))


@lowering("Trunc")
def trunc(g, a):
    return _trunc(g, a) if _floating(g, a) else g.op("Identity", a)


@lowering("Frac")
def frac(g, a):
    return g.op("Sub", a, _trunc(g, a))


@lowering("Round")
def round_(g, a, decimals=0):
    if not _floating(g, a):
        return g.op("Identity", a)
    if decimals == 0:
        return g.op("Round", a)  # half to even, as PyTorch
    scale = g.like(10.0 ** abs(decimals), a)
    if decimals > 0:
        return g.op("Div", g.op("Round", g.op("Mul", a, scale)), scale)
    return g.op("Mul", g.op("Round", g.op("Div", a, scale)), scale)
