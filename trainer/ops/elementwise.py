"""Elementwise functions that PyTorch offers as single calls but that are short compositions of differentiable
ops here: ``logaddexp``, ``xlogy``, ``logit``, ``sinc``, ``copysign``, ``heaviside``, ``float_power``, ...
Being compositions, their gradients and their ONNX export come from the parts.

Where a branch of ``where`` would divide by zero or take ``log(0)`` for the elements it does not select, its
input is replaced there first: ``where`` passes those elements a zero gradient, but ``0 * inf`` is NaN.
"""

from __future__ import annotations

import math

from trainer.ops._operands import promote
from trainer.ops.arithmetic import div
from trainer.ops.compare import maximum, where
from trainer.ops.transcendental import log1p, reciprocal


def logaddexp(a, b):
    """``log(exp(a) + exp(b))`` without overflow: the larger plus ``log1p(exp(-|a - b|))``."""
    a, b = promote(a, b, min_category_float=True)
    same = a == b  # also two equal infinities, whose difference is NaN
    gap = where(same, 0.0, a - b)
    return where(same, a + math.log(2), maximum(a, b) + log1p((-gap.abs()).exp()))


def logaddexp2(a, b):
    """``log2(2**a + 2**b)``."""
    ln2 = math.log(2)
    return logaddexp(a * ln2, b * ln2) / ln2


def xlogy(x, y):
    """``x * log(y)``, and 0 where ``x`` is 0 (unless ``y`` is NaN), as in PyTorch. Only the zeros that
    ``x * log(y)`` would get wrong (``y`` <= 0 or infinite) are masked, so that ``x``'s gradient at 0 is
    ``log(y)`` elsewhere, as PyTorch's."""
    x, y = promote(x, y, min_category_float=True)
    zero = (x == 0) & ((y <= 0) | y.isinf())
    return where(zero, 0.0, x * where(zero, 1.0, y).log())


def logit(a, eps=None):
    """``log(p / (1 - p))``, with ``p`` clamped to ``[eps, 1 - eps]`` when ``eps`` is given."""
    p = a if eps is None else a.clamp(eps, 1 - eps)
    return (p / (1 - p)).log()


def sinc(a):
    """``sin(pi x) / (pi x)``, 1 at 0 (with gradient 0 there)."""
    a = promote(a, min_category_float=True)[0]
    zero = a == 0
    scaled = where(zero, 1.0, a) * math.pi
    return where(zero, 1.0, scaled.sin() / scaled)


def deg2rad(a):
    return promote(a, min_category_float=True)[0] * (math.pi / 180)


def rad2deg(a):
    return promote(a, min_category_float=True)[0] * (180 / math.pi)


def copysign(a, b):
    """``|a|`` with the sign of ``b`` (including the sign of a signed zero or NaN, as ``signbit`` reads it)."""
    a, b = promote(a, b, min_category_float=True)
    return where(signbit(b), -a.abs(), a.abs())


def signbit(a):
    """Whether the sign bit is set: true for negative numbers and ``-0.0`` (whose reciprocal is ``-inf``); NaNs
    count as positive, whatever their bit."""
    if not a.dtype.is_floating_point:
        return a < 0
    return (a < 0) | ((a == 0) & (reciprocal(a) < 0))


def heaviside(a, values):
    """0 below zero, 1 above, ``values`` at zero."""
    a, values = promote(a, values)
    return where(a == 0, values, (a > 0).to(a.dtype))


def float_power(a, exponent):
    """``a ** exponent`` in double precision, as PyTorch computes it."""
    a, exponent = promote(a, exponent)
    return a.double() ** exponent.double()


def floor_divide(a, b):
    return div(a, b, rounding_mode="floor")
