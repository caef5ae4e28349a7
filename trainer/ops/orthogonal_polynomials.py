"""Classical orthogonal polynomials of a tensor degree, as ``torch.special``'s: Chebyshev ``T, U, V, W`` and their
shifted forms on [0, 1], Hermite ``H`` (physicists') and ``He`` (probabilists'), Laguerre ``L`` and Legendre ``P``.

PyTorch's conventions are kept exactly: the degree is truncated to an integer (NaN, infinite or out-of-range degrees
count as negative), a negative degree gives 0, the endpoints have closed forms, inside (-1, 1) a high-degree
Chebyshev polynomial comes from its trigonometric form, and everywhere else from its three-term recurrence, which
overflows to inf and then NaN for large degrees outside [-1, 1] as PyTorch's does. Hermite degrees beyond 512 (128
in float32) are NaN. None of these is differentiable: the outputs never require grad, as in PyTorch.
"""

from __future__ import annotations

import numpy as np

from trainer.autograd import grad_mode
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import promote, quiet_fp_errors
from trainer.tensor import Tensor

_INT64_LIMIT = 2.0 ** 63


def _degrees(xp, n):
    """``n`` as PyTorch's ``static_cast<int64_t>``: truncated, and -1 where the cast has no value."""
    valid = xp.isfinite(n) & (xp.abs(n) < _INT64_LIMIT)
    return xp.where(valid, xp.trunc(xp.where(valid, n, -1.0)), -1.0).astype(np.int64)


def _recurrence(xp, n, first, step):
    """The degree-``n`` member of a family with ``P0 = 1``, ``P1 = first`` and ``P_m = step(m, P_{m-1}, P_{m-2})``,
    for ``n >= 2``; runs on the elements that still need a higher degree, and stops early where the value is NaN
    (it stays NaN, as in PyTorch's loop)."""
    out = xp.full(n.shape, np.nan)
    index = xp.nonzero(n >= 2)[0]
    p, q = xp.ones(index.shape), first[index]
    degree = 2
    while index.size:
        r = step(degree, index, q, p)
        finished = (n[index] == degree) | xp.isnan(r)
        out[index[finished]] = r[finished]
        keep = ~finished
        index, p, q = index[keep], q[keep], r[keep]
        degree += 1
    return out


def _chebyshev_like(xp, y, n, first, trig, threshold, ends):
    """A Chebyshev family in ``y`` (``y = x`` or ``2x - 1``): ``ends(n)`` at the endpoints (mask, value pairs),
    ``trig(theta, n)`` for ``|y| < 1`` and ``n > threshold``, the recurrence ``2y P_{m-1} - P_{m-2}`` elsewhere."""
    two_y = y + y
    value = _recurrence(xp, n, first, lambda m, i, q, p: two_y[i] * q - p)
    value = xp.where(n == 1, first, xp.where(n == 0, 1.0, value))
    inside = (n > threshold) & (xp.abs(y) < 1)
    value = xp.where(inside, trig(xp.arccos(xp.where(inside, y, 0.0)), n.astype(np.float64)), value)
    for mask, end in ends(n.astype(np.float64)):
        value = xp.where(mask, end, value)
    return xp.where(n < 0, 0.0, value)


def _alternating(n, value):
    """``value`` for even ``n``, ``-value`` for odd."""
    return (1 - 2 * (n % 2)) * value


def _chebyshev_t(xp, x, y, n, shifted):
    first = y
    ends = ((x == 1, 1.0), (x == 0, _alternating(n, 1.0))) if shifted else \
        ((xp.abs(x) == 1, xp.where(x > 0, 1.0, _alternating(n, 1.0))),)
    return _chebyshev_like(xp, y, n, first, lambda t, m: xp.cos(m * t), 6, lambda m: ends)


def _chebyshev_u(xp, x, y, n, shifted):
    def trig(t, m):
        s = xp.sin(t)
        return xp.where(s != 0, xp.sin((m + 1) * t) / xp.where(s != 0, s, 1.0), (m + 1) * xp.cos((m + 1) * t) / y)

    def ends(m):
        if shifted:
            return ((x == 1, m + 1), (x == 0, _alternating(m, m + 1)))
        return ((xp.abs(x) == 1, xp.where(x > 0, m + 1, _alternating(m, m + 1))),)

    return _chebyshev_like(xp, y, n, y + y, trig, 6 if shifted else 8, ends)


def _chebyshev_v(xp, x, y, n, shifted):
    def trig(t, m):
        half = t / 2
        return xp.where(xp.sin(half) != 1, xp.cos((m + 0.5) * t) / xp.cos(half), _alternating(m, m + m + 1))

    def ends(m):
        if shifted:
            return ((x == 1, 1.0), (x == 0, _alternating(m, m + m + 1)))
        return ((xp.abs(x) == 1, xp.where(x > 0, 1.0, _alternating(m, m + m + 1))),)

    return _chebyshev_like(xp, y, n, y + y - 1, trig, 6 if shifted else 8, ends)


def _chebyshev_w(xp, x, y, n, shifted):
    def trig(t, m):
        half = t / 2
        at_one = xp.where(y > 0, m + m + 1, _alternating(m, 1.0)) if not shifted else _alternating(m, 1.0)
        return xp.where(xp.cos(half) != 1, xp.sin((m + 0.5) * t) / xp.sin(half), at_one)

    def ends(m):
        if shifted:
            return ((x == 1, m + m + 1), (x == 0, _alternating(m, 1.0)))
        return ((xp.abs(x) == 1, xp.where(x > 0, m + m + 1, _alternating(m, 1.0))),)

    return _chebyshev_like(xp, y, n, y + y + 1, trig, 4 if shifted else 8, ends)


def _hermite(xp, x, n, physicists, limit):
    first = x + x if physicists else x
    scale = x + x if physicists else x
    spacing = 2.0 if physicists else 1.0
    beyond = n > limit
    value = _recurrence(xp, xp.where(beyond, 0, n), first, lambda m, i, q, p: scale[i] * q - spacing * (m - 1) * p)
    value = xp.where(beyond, np.nan, value)
    return xp.where(n < 0, 0.0, xp.where(n == 1, first, xp.where(n == 0, 1.0, value)))


def _laguerre(xp, x, n):
    first = 1 - x
    value = _recurrence(xp, n, first, lambda m, i, q, p: ((2 * m - 1 - x[i]) * q - (m - 1) * p) / m)
    value = xp.where(n == 1, first, xp.where(n == 0, 1.0, value))
    return xp.where(n < 0, 0.0, xp.where(x == 0, 1.0, value))


def _legendre(xp, x, n):
    value = _recurrence(xp, n, x, lambda m, i, q, p: ((2 * m - 1) * x[i] * q - (m - 1) * p) / m)
    value = xp.where(n == 1, x, xp.where(n == 0, 1.0, value))
    value = xp.where(xp.abs(x) == 1, xp.where(x > 0, 1.0, _alternating(n, 1.0)), value)
    return xp.where(n < 0, 0.0, value)


def _shifted(family):
    return lambda xp, x, n, limit: family(xp, x, x + x - 1, n, True)


def _plain(family):
    return lambda xp, x, n, limit: family(xp, x, x, n, False)


_FAMILIES = {
    "chebyshev_polynomial_t": _plain(_chebyshev_t),
    "chebyshev_polynomial_u": _plain(_chebyshev_u),
    "chebyshev_polynomial_v": _plain(_chebyshev_v),
    "chebyshev_polynomial_w": _plain(_chebyshev_w),
    "shifted_chebyshev_polynomial_t": _shifted(_chebyshev_t),
    "shifted_chebyshev_polynomial_u": _shifted(_chebyshev_u),
    "shifted_chebyshev_polynomial_v": _shifted(_chebyshev_v),
    "shifted_chebyshev_polynomial_w": _shifted(_chebyshev_w),
    "hermite_polynomial_h": lambda xp, x, n, limit: _hermite(xp, x, n, True, limit),
    "hermite_polynomial_he": lambda xp, x, n, limit: _hermite(xp, x, n, False, limit),
    "laguerre_polynomial_l": lambda xp, x, n, limit: _laguerre(xp, x, n),
    "legendre_polynomial_p": lambda xp, x, n, limit: _legendre(xp, x, n),
}


class OrthogonalPolynomial(Function):
    """``family(x, n)`` elementwise, computed in float64 over the flattened broadcast operands."""

    @staticmethod
    def forward(ctx, x, n, *, family):
        xp = xp_of(x)
        x, n = xp.broadcast_arrays(x, n)
        x64, n64 = (a.astype(np.float64).reshape(-1) for a in (x, n))
        limit = 128 if x.dtype == np.float32 else 512  # PyTorch's Hermite cut-off per precision
        with quiet_fp_errors(xp):
            value = _FAMILIES[family](xp, x64, _degrees(xp, n64), limit)
        return value.reshape(x.shape).astype(x.dtype, copy=False)


def _polynomial(family):
    def polynomial(input, n):  # noqa: A002 - PyTorch's name
        if not isinstance(input, Tensor) and not isinstance(n, Tensor):
            raise TypeError(f"{family}() expects x or n to be a Tensor, got {type(input).__name__} and "
                            f"{type(n).__name__}")
        x, degree = promote(input, n, min_category_float=True)
        with grad_mode.no_grad():
            return OrthogonalPolynomial.apply(x, degree, family=family)

    polynomial.__name__ = polynomial.__qualname__ = family
    polynomial.__doc__ = f"``torch.special.{family}(input, n)``: not differentiable, as in PyTorch."
    return polynomial


chebyshev_polynomial_t = _polynomial("chebyshev_polynomial_t")
chebyshev_polynomial_u = _polynomial("chebyshev_polynomial_u")
chebyshev_polynomial_v = _polynomial("chebyshev_polynomial_v")
chebyshev_polynomial_w = _polynomial("chebyshev_polynomial_w")
shifted_chebyshev_polynomial_t = _polynomial("shifted_chebyshev_polynomial_t")
shifted_chebyshev_polynomial_u = _polynomial("shifted_chebyshev_polynomial_u")
shifted_chebyshev_polynomial_v = _polynomial("shifted_chebyshev_polynomial_v")
shifted_chebyshev_polynomial_w = _polynomial("shifted_chebyshev_polynomial_w")
hermite_polynomial_h = _polynomial("hermite_polynomial_h")
hermite_polynomial_he = _polynomial("hermite_polynomial_he")
laguerre_polynomial_l = _polynomial("laguerre_polynomial_l")
legendre_polynomial_p = _polynomial("legendre_polynomial_p")
