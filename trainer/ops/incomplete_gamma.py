"""The regularized lower incomplete gamma function ``P(a, x)`` (PyTorch's ``special.gammainc``) with its
derivatives, written against ``xp`` in float64.

``P`` comes from its power series where ``x < a + 1`` and from Legendre's continued fraction for ``Q = 1 - P``
elsewhere (Numerical Recipes' ``gser`` and ``gcf``), each summed until further terms no longer change it. Both
give ``dP/da`` exactly alongside (the series term by term, the fraction by forward-mode Lentz steps), and with it
``dx/da`` at fixed ``P``: the implicit reparameterisation gradient of a standard gamma draw. The number of terms
grows like ``sqrt(a)`` near ``x = a``.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._lentz import MAX_TERMS, TINY, TOLERANCE, lentz_step
from trainer.ops._operands import promote, quiet_fp_errors, unbroadcast
from trainer.ops.special import _digamma, _lgamma

_EPS = float(np.finfo(np.float64).eps)

IncompleteGamma = namedtuple("IncompleteGamma", ["p", "dp_da", "dp_dx", "dx_da"])


def _series(xp, a, x):
    """``S`` and ``dS/da`` in ``P = exp(a log x - x - lgamma(a + 1)) S``, ``S = sum_n x^n / ((a + 1)...(a + n))``."""
    term = xp.ones_like(x)
    total, dtotal, harmonic = term.copy(), xp.zeros_like(x), xp.zeros_like(x)
    for n in range(1, MAX_TERMS):
        harmonic = harmonic + 1 / (a + n)  # minus d/da of the log of term n
        term = term * x / (a + n)
        total = total + term
        dtotal = dtotal - term * harmonic
        if not bool((term * (1 + harmonic) > _EPS * total).any()):
            break
    return total, dtotal


def _fraction(xp, a, x):
    """``h`` and ``dh/da`` in ``Q = exp(a log x - x - lgamma(a)) h``,
    ``h = 1 / (x + 1 - a - 1 (1 - a) / (x + 3 - a - 2 (2 - a) / (x + 5 - a - ...)))``."""
    b = x + 1 - a
    c, dc = xp.full_like(x, 1 / TINY), xp.zeros_like(x)
    d = 1 / b
    dd = d * d  # d(1/b)/da, as db/da = -1
    h, dh = d, dd
    for i in range(1, MAX_TERMS):
        b = b + 2
        c, dc, d, dd, delta, ddelta = lentz_step(xp, -i * (i - a), float(i), b, -1.0, c, dc, d, dd)
        h, dh = h * delta, dh * delta + h * ddelta
        # ddelta adds to d(log h)/da, which is of order 1/x here
        if not bool(((xp.abs(delta - 1) > TOLERANCE) | (xp.abs(ddelta) > TOLERANCE * (xp.abs(dh / h) + 1 / x))).any()):
            break
    return h, dh


def regularized_gamma(xp, a, x) -> IncompleteGamma:
    """``P(a, x)``, ``dP/da``, ``dP/dx`` (the gamma density) and ``dx/da`` at fixed ``P``, for float64 arrays
    (broadcast together). As in PyTorch, ``P(0, x > 0) = 1`` and negative ``a`` or ``x`` give NaN."""
    a, x = xp.broadcast_arrays(a, x)
    p, dp_da, dx_da = (xp.zeros(a.shape, dtype=np.float64) for _ in range(3))
    with quiet_fp_errors(xp):
        dp_dx = xp.exp((a - 1) * xp.log(x) - x - _lgamma(xp, a))
        interior = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        series = interior & (x < a + 1)
        if bool(series.any()):
            sa, sx = a[series], x[series]
            s, ds = _series(xp, sa, sx)
            bracket = (xp.log(sx) - _digamma(xp, sa + 1)) * s + ds
            scale = xp.exp(sa * xp.log(sx) - sx - _lgamma(xp, sa + 1))
            p[series], dp_da[series], dx_da[series] = scale * s, scale * bracket, -(sx / sa) * bracket
        fraction = interior & ~series
        if bool(fraction.any()):
            fa, fx = a[fraction], x[fraction]
            h, dh = _fraction(xp, fa, fx)
            bracket = (xp.log(fx) - _digamma(xp, fa)) * h + dh
            scale = xp.exp(fa * xp.log(fx) - fx - _lgamma(xp, fa))
            p[fraction], dp_da[fraction], dx_da[fraction] = 1 - scale * h, -scale * bracket, fx * bracket
        # the edges of the domain: P(a, inf) = 1, P(0, x > 0) = 1, P(a, 0) = 0, the rest undefined
        p = xp.where((x == xp.inf) & (a > 0) | (a == 0) & (x > 0), 1.0, p)
        undefined = xp.isnan(a) | xp.isnan(x) | (a < 0) | (x < 0) | (a == xp.inf) | (a == 0) & (x == 0)
        p, dp_da, dx_da = (xp.where(undefined, xp.nan, v) for v in (p, dp_da, dx_da))
        dp_dx = xp.where(undefined, xp.nan, xp.where(x == xp.inf, 0.0, dp_dx))
    return IncompleteGamma(p, dp_da, dp_dx, dx_da)


class GammaInc(Function):
    """``P(a, x)``, differentiable in both ``a`` and ``x``."""

    @staticmethod
    def forward(ctx, a, x):
        xp = xp_of(a)
        result = regularized_gamma(xp, a.astype(np.float64), x.astype(np.float64))
        ctx.shapes = (a.shape, x.shape)
        ctx.save_for_backward(result.dp_da, result.dp_dx)
        return result.p.astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        dp_da, dp_dx = ctx.saved_tensors
        a_shape, x_shape = ctx.shapes
        return (unbroadcast((g * dp_da).astype(g.dtype, copy=False), a_shape),
                unbroadcast((g * dp_dx).astype(g.dtype, copy=False), x_shape))


def gammainc(input, other):
    """The regularized lower incomplete gamma function ``P(input, other)``, as ``torch.special.gammainc``."""
    a, x = promote(input, other, min_category_float=True)
    return GammaInc.apply(a, x)
