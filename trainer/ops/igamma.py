"""PyTorch's ``igamma`` / ``igammac`` (``torch.special.gammainc`` / ``gammaincc``): the regularized lower and upper
incomplete gamma functions ``P(a, x)`` and ``Q(a, x) = 1 - P(a, x)``.

``P`` is ``trainer.ops.incomplete_gamma``'s. ``Q`` is not read off as ``1 - P`` where that would cancel: where
Legendre's continued fraction applies it gives ``Q`` directly, and for ``x <= 1.1`` with small ``a`` (SciPy's
``igamc`` split) ``Q`` comes from its own series, ``1 - x^a / Gamma(a + 1) - x^a / Gamma(a) sum_n (-x)^n /
(n! (a + n))``, with ``log Gamma(1 + a)`` summed from its Taylor series so that tiny ``a`` keeps its digits.

As in PyTorch only ``x`` (``other``) is differentiable; backward through ``a`` (``input``) raises
``NotImplementedError``. Integer operands are refused as PyTorch refuses them.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._dtype_errors import not_implemented_for
from trainer.ops._operands import promote, quiet_fp_errors, unbroadcast
from trainer.ops.incomplete_gamma import _fraction, regularized_gamma
from trainer.ops.special import _hurwitz_zeta, _lgamma
from trainer.tensor import Tensor

_EPS = float(np.finfo(np.float64).eps)
_EULER_GAMMA = 0.5772156649015329
# (-1)^k zeta(k) / k for k = 2..40: the Taylor coefficients of log Gamma(1 + a) after -gamma a
_LGAMMA1P_TAYLOR = tuple((-1) ** k * float(_hurwitz_zeta(np, float(k), np.ones(1))[0]) / k for k in range(2, 41))


def _lgamma1p(xp, a):
    """``log Gamma(1 + a)``, to full relative precision also for tiny ``a`` (Taylor series below 0.5)."""
    small = xp.minimum(xp.abs(a), 0.5)
    series = xp.zeros_like(a)
    for c in reversed(_LGAMMA1P_TAYLOR):
        series = (series + c) * small
    return xp.where(xp.abs(a) < 0.5, (series - _EULER_GAMMA) * small, _lgamma(xp, 1 + a))


def _upper_series(xp, a, x):
    """``Q(a, x)`` by its small-``x`` series (converges fast for ``x <= 1.1``)."""
    fac, total = xp.ones_like(x), xp.zeros_like(x)
    for n in range(1, 60):
        fac = -fac * x / n
        term = fac / (a + n)
        total = total + term
        if not bool((xp.abs(term) > _EPS * xp.abs(total)).any()):
            break
    log_x = xp.log(x)
    return -xp.expm1(a * log_x - _lgamma1p(xp, a)) - xp.exp(a * log_x - _lgamma(xp, a)) * total


def regularized_upper_gamma(xp, a, x):
    """``Q(a, x)`` for float64 arrays broadcast together, with PyTorch's values at the edges of the domain."""
    a, x = xp.broadcast_arrays(a, x)
    with quiet_fp_errors(xp):
        q = 1 - regularized_gamma(xp, a, x).p
        interior = (a > 0) & (x > 0) & xp.isfinite(a) & xp.isfinite(x)
        fraction = interior & (x >= a + 1)
        if bool(fraction.any()):
            fa, fx = a[fraction], x[fraction]
            q[fraction] = xp.exp(fa * xp.log(fx) - fx - _lgamma(xp, fa)) * _fraction(xp, fa, fx)[0]
        # SciPy's choice between 1 - P and the series of Q near x = 0
        near = interior & (x <= 1.1) & xp.where(x <= 0.5, a <= -0.4 / xp.log(xp.minimum(x, 0.5)), a <= 1.1 * x)
        if bool(near.any()):
            q[near] = _upper_series(xp, a[near], x[near])
    return q


def _infinite_shape(xp, a, x):
    """Where PyTorch gives ``P(inf, x) = 0`` (and ``Q = 1``): infinite shape, finite ``x >= 0``."""
    return (a == xp.inf) & (x >= 0) & xp.isfinite(x)


class _IncompleteGamma(Function):
    """``P`` or ``Q`` (a subclass's ``regularized``, on float64 arrays), with ``at_infinite_shape`` where the shape
    is infinite.
    Shared backward: ``dP/dx`` is the gamma density; ``a`` has no derivative in PyTorch."""

    kernel = ""
    sign = 1.0
    at_infinite_shape = 0.0

    @classmethod
    def forward(cls, ctx, a, x):
        ctx.x_shape = x.shape
        a64, x64 = a.astype(np.float64), x.astype(np.float64)
        ctx.save_for_backward(a64, x64)
        xp = xp_of(a)
        values = cls.regularized(xp, a64, x64)
        return xp.where(_infinite_shape(xp, a64, x64), cls.at_infinite_shape, values).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        if ctx.needs_input_grad[0]:
            raise NotImplementedError(f"the derivative for '{type(ctx).kernel}: input' is not implemented.")
        a, x = ctx.saved_tensors
        xp = xp_of(g)
        with quiet_fp_errors(xp):
            density = xp.exp((a - 1) * xp.log(x) - x - _lgamma(xp, a))
        return None, unbroadcast((type(ctx).sign * g * density).astype(g.dtype, copy=False), ctx.x_shape)


class IGamma(_IncompleteGamma):
    kernel = "igamma"

    @staticmethod
    def regularized(xp, a, x):
        return regularized_gamma(xp, a, x).p


class IGammac(_IncompleteGamma):
    kernel = "igammac"
    sign = -1.0
    at_infinite_shape = 1.0
    regularized = staticmethod(regularized_upper_gamma)


def _operands(kernel, input, other):  # noqa: A002 - PyTorch's name
    for name, value in (("input", input), ("other", other)):
        if not isinstance(value, Tensor):
            raise TypeError(f"{kernel}(): argument '{name}' must be Tensor, not {type(value).__name__}")
    a, x = promote(input, other)
    if not a.dtype.is_floating_point:
        raise not_implemented_for(kernel, a, "expected floating-point tensors")
    return a, x


def igamma(input, other):  # noqa: A002 - PyTorch's name
    """The regularized lower incomplete gamma function ``P(input, other)``; differentiable in ``other`` only."""
    return IGamma.apply(*_operands("igamma", input, other))


def igammac(input, other):  # noqa: A002 - PyTorch's name
    """The regularized upper incomplete gamma function ``Q(input, other)``; differentiable in ``other`` only."""
    return IGammac.apply(*_operands("igammac", input, other))


gammainc = igamma
gammaincc = igammac
