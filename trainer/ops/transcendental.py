"""The rest of PyTorch's elementwise functions of one tensor: ``log1p``, ``expm1``, ``log2``, ``log10``,
``exp2``, the trigonometric and hyperbolic functions and their inverses, ``reciprocal`` and ``erfc``.

Each is a ``Function`` built from its NumPy/CuPy ufunc and its derivative, written as a function of the input
``a`` and the output ``out`` (whichever is cheaper); the class name is the op name the exporter lowers. The
derivative is written once: on arrays with ``xp`` for the first-order backward, and on tensors with ``trainer``
in place of ``xp`` for the recorded one (``create_graph=True``).
"""

from __future__ import annotations

import math

import trainer
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import quiet_fp_errors
from trainer.ops.activation import _erf
from trainer.ops.holomorphic import holomorphic
from trainer.ops.unary import _floating

_TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)


def _elementwise(name: str, forward, derivative):
    """A ``Function`` class ``name`` computing ``forward(xp, a)`` with gradient ``g * derivative(xp, a, out)``."""

    def forward_(ctx, a):
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            out = forward(xp, a)
        ctx.save_for_backward(a, out)
        return out

    def backward(ctx, g):
        a, out = ctx.saved_tensors
        xp = xp_of(a)
        with quiet_fp_errors(xp):
            return g * derivative(xp, a, out)

    def backward_graph(ctx, g):
        a, out = graph_tensors(ctx)
        return g * derivative(trainer, a, out)

    return holomorphic(type(name, (Function,), {"forward": staticmethod(forward_), "backward": staticmethod(backward),
                                    "backward_graph": staticmethod(backward_graph), "__module__": __name__}))


Log1p = _elementwise("Log1p", lambda xp, a: xp.log1p(a), lambda xp, a, out: 1 / (1 + a))
Expm1 = _elementwise("Expm1", lambda xp, a: xp.expm1(a), lambda xp, a, out: out + 1)
Log2 = _elementwise("Log2", lambda xp, a: xp.log2(a), lambda xp, a, out: 1 / (a * math.log(2)))
Log10 = _elementwise("Log10", lambda xp, a: xp.log10(a), lambda xp, a, out: 1 / (a * math.log(10)))
Exp2 = _elementwise("Exp2", lambda xp, a: xp.exp2(a), lambda xp, a, out: out * math.log(2))
Tan = _elementwise("Tan", lambda xp, a: xp.tan(a), lambda xp, a, out: 1 + out * out)
Asin = _elementwise("Asin", lambda xp, a: xp.arcsin(a), lambda xp, a, out: 1 / xp.sqrt(1 - a * a))
Acos = _elementwise("Acos", lambda xp, a: xp.arccos(a), lambda xp, a, out: -1 / xp.sqrt(1 - a * a))
Atan = _elementwise("Atan", lambda xp, a: xp.arctan(a), lambda xp, a, out: 1 / (1 + a * a))
Sinh = _elementwise("Sinh", lambda xp, a: xp.sinh(a), lambda xp, a, out: xp.cosh(a))
Cosh = _elementwise("Cosh", lambda xp, a: xp.cosh(a), lambda xp, a, out: xp.sinh(a))
Asinh = _elementwise("Asinh", lambda xp, a: xp.arcsinh(a), lambda xp, a, out: 1 / xp.sqrt(a * a + 1))
Acosh = _elementwise("Acosh", lambda xp, a: xp.arccosh(a), lambda xp, a, out: 1 / xp.sqrt(a * a - 1))
Atanh = _elementwise("Atanh", lambda xp, a: xp.arctanh(a), lambda xp, a, out: 1 / (1 - a * a))
Reciprocal = _elementwise("Reciprocal", lambda xp, a: 1 / a, lambda xp, a, out: -out * out)
Erfc = _elementwise("Erfc", lambda xp, a: 1 - _erf(xp, a), lambda xp, a, out: -_TWO_OVER_SQRT_PI * xp.exp(-a * a))


def log1p(a):
    return Log1p.apply(_floating(a))


def expm1(a):
    return Expm1.apply(_floating(a))


def log2(a):
    return Log2.apply(_floating(a))


def log10(a):
    return Log10.apply(_floating(a))


def exp2(a):
    return Exp2.apply(_floating(a))


def tan(a):
    return Tan.apply(_floating(a))


def asin(a):
    return Asin.apply(_floating(a))


def acos(a):
    return Acos.apply(_floating(a))


def atan(a):
    return Atan.apply(_floating(a))


def sinh(a):
    return Sinh.apply(_floating(a))


def cosh(a):
    return Cosh.apply(_floating(a))


def asinh(a):
    return Asinh.apply(_floating(a))


def acosh(a):
    return Acosh.apply(_floating(a))


def atanh(a):
    return Atanh.apply(_floating(a))


def reciprocal(a):
    return Reciprocal.apply(_floating(a))


def erfc(a):
    return Erfc.apply(_floating(a))


# PyTorch's NumPy-style aliases
arcsin, arccos, arctan, arcsinh, arccosh, arctanh = asin, acos, atan, asinh, acosh, atanh
