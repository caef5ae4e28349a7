"""Complex elementwise ops on (real, imag) pairs: real, imag, abs, angle, conj, view_as_real/view_as_complex (the
pairs already are that layout), complex(), casts to and from complex, and add, sub, mul, div, neg. Also ``angle`` of
a real tensor (0 or pi), which needs no pairs."""

import math

from exporter.emitter import onnx_dtype
from exporter.lowerings import lowering
from exporter.lowerings.arithmetic import atan2
from exporter.lowerings.complex_pairs import as_pairs, complex_lowering, conjugate, pairs, part, parts, real_dtype


@complex_lowering("Real")
def real(g, z):
    return part(g, z, 0)


@complex_lowering("Imag")
def imag(g, z):
    return part(g, z, 1)


@complex_lowering("Abs")
def magnitude(g, z):
    return g.reduce("ReduceL2", z, [-1], keepdims=False)


@complex_lowering("Angle")
def angle(g, z):
    re, im = parts(g, z)
    return atan2(g, im, re)


@lowering("Angle")
def angle_of_real(g, a):
    # as trainer and PyTorch: pi for negative numbers, NaN for NaN, else 0
    zero_or_nan = g.op("Where", g.op("IsNaN", a), a, g.like(0.0, a))
    return g.op("Where", g.op("Less", a, g.like(0.0, a)), g.like(math.pi, a), zero_or_nan)


@complex_lowering("Conj")
def conj(g, z):
    return conjugate(g, z, real_dtype(g, z))


@complex_lowering("ViewAsReal", "ViewAsComplex")
def same_pairs(g, a):
    return g.op("Identity", a)


@complex_lowering("Complex")
def complex_from_parts(g, re, im):
    if g.shape(re) != g.shape(im):  # complex() broadcasts its parts
        common = g.op("Shape", g.op("Add", re, im))
        re, im = g.op("Expand", re, common), g.op("Expand", im, common)
    return pairs(g, re, im)


@complex_lowering("Cast")
def cast(g, a, to):
    if to.is_complex:
        part_type = onnx_dtype(to.to_real().np)
        if g.dtype(a).kind == "c":
            return g.op("Cast", a, to=part_type)
        converted = g.record(g.op("Cast", a, to=part_type), g.shape(a), to.to_real().np)
        return as_pairs(g, converted)
    re, im = parts(g, a)
    if to.np.kind == "b":  # a complex number is true where either part is nonzero
        zero = g.like(0.0, re)
        return g.op("Or", g.op("Not", g.op("Equal", re, zero)), g.op("Not", g.op("Equal", im, zero)))
    return g.op("Cast", re, to=onnx_dtype(to.np))  # the imaginary part is discarded, as PyTorch does


@complex_lowering("Add", "Sub")
def add_sub(g, a, b):
    return g.op(g.op_name, as_pairs(g, a), as_pairs(g, b))


@complex_lowering("Neg")
def neg(g, z):
    return g.op("Neg", z)


@complex_lowering("Mul")
def mul(g, a, b):
    (ar, ai), (br, bi) = parts(g, a), parts(g, b)
    re = g.op("Sub", g.op("Mul", ar, br), g.op("Mul", ai, bi))
    im = g.op("Add", g.op("Mul", ar, bi), g.op("Mul", ai, br))
    return pairs(g, re, im)


@complex_lowering("Div")
def div(g, a, b):
    (ar, ai), (br, bi) = parts(g, a), parts(g, b)
    denominator = g.op("Add", g.op("Mul", br, br), g.op("Mul", bi, bi))
    re = g.op("Add", g.op("Mul", ar, br), g.op("Mul", ai, bi))
    im = g.op("Sub", g.op("Mul", ai, br), g.op("Mul", ar, bi))
    return pairs(g, g.op("Div", re, denominator), g.op("Div", im, denominator))

