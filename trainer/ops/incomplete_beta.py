"""The regularized incomplete beta function ``I_x(a, b)`` and how a beta draw ``x`` moves with its parameters,
written against ``xp`` in float64.

``I`` comes from its continued fraction (Numerical Recipes' ``betacf``) where ``x < (a + 1) / (a + b + 2)``, and
from ``1 - I_{1-x}(b, a)`` elsewhere, so that the smaller tail is always summed directly. Forward-mode Lentz steps
carry the fraction's derivative in either parameter; from it follow ``dx/da`` and ``dx/db`` at fixed ``I``, the
implicit reparameterisation gradients of a beta draw that PyTorch's Beta ``rsample`` approximates (through
``torch._dirichlet_grad``), here exact.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from trainer.ops._lentz import MAX_TERMS, TOLERANCE, away_from_zero, lentz_step
from trainer.ops._operands import quiet_fp_errors
from trainer.ops.special import _digamma, _lgamma

IncompleteBeta = namedtuple("IncompleteBeta", ["value", "dx_da", "dx_db"])


def _fraction(xp, p, q, x, dp, dq):
    """``f`` and its derivative along ``(p + dp t, q + dq t)`` in ``I_x(p, q) = x^p (1 - x)^q / (p B(p, q)) f``."""
    total, d_total = p + q, dp + dq
    d, dd = away_from_zero(xp, 1 - total * x / (p + 1), -x * (d_total * (p + 1) - total * dp) / (p + 1) ** 2)
    d, dd = 1 / d, -dd / (d * d)
    c, dc = xp.ones_like(x), xp.zeros_like(x)
    h, dh = d, dd
    for m in range(1, MAX_TERMS):
        # the even term m (q - m) x / ((p + 2m - 1)(p + 2m)), the odd -(p + m)(p + q + m) x / ((p + 2m)(p + 2m + 1))
        denominator = (p + 2 * m - 1) * (p + 2 * m)
        even = m * (q - m) * x / denominator
        d_even = (m * x * dq - even * (2 * p + 4 * m - 1) * dp) / denominator
        c, dc, d, dd, delta, ddelta = lentz_step(xp, even, d_even, 1.0, 0.0, c, dc, d, dd)
        h, dh = h * delta, dh * delta + h * ddelta
        denominator = (p + 2 * m) * (p + 2 * m + 1)
        odd = -(p + m) * (total + m) * x / denominator
        d_odd = (-x * (dp * (total + m) + (p + m) * d_total) - odd * (2 * p + 4 * m + 1) * dp) / denominator
        c, dc, d, dd, delta, ddelta = lentz_step(xp, odd, d_odd, 1.0, 0.0, c, dc, d, dd)
        h, dh = h * delta, dh * delta + h * ddelta
        if not bool(((xp.abs(delta - 1) > TOLERANCE) | (xp.abs(ddelta) > TOLERANCE * (xp.abs(dh / h) + 1))).any()):
            break
    return h, dh


def _interior(xp, a, b, x):
    """``I_x(a, b)`` and ``dx/da``, ``dx/db`` at fixed ``I``, where ``a, b > 0`` and ``0 < x < 1``."""
    value, dx_da, dx_db = (xp.zeros(x.shape, dtype=np.float64) for _ in range(3))
    direct = x < (a + 1) / (a + b + 2)
    for mask, flipped in ((direct, False), (~direct, True)):
        if not bool(mask.any()):
            continue
        ma, mb, mx = a[mask], b[mask], x[mask]
        # K = x^a (1 - x)^b / B(a, b) is the density times x (1 - x)
        log_k = ma * xp.log(mx) + mb * xp.log1p(-mx) - _lgamma(xp, ma) - _lgamma(xp, mb) + _lgamma(xp, ma + mb)
        dlog_k_da = xp.log(mx) - _digamma(xp, ma) + _digamma(xp, ma + mb)
        dlog_k_db = xp.log1p(-mx) - _digamma(xp, mb) + _digamma(xp, ma + mb)
        spread = mx * (1 - mx)
        if flipped:  # I = 1 - K f(b, a, 1 - x) / b
            f, df_db = _fraction(xp, mb, ma, 1 - mx, 1.0, 0.0)
            df_da = _fraction(xp, mb, ma, 1 - mx, 0.0, 1.0)[1]
            value[mask] = 1 - xp.exp(log_k) * f / mb
            dx_da[mask] = spread * (dlog_k_da * f + df_da) / mb
            dx_db[mask] = spread * ((dlog_k_db * f + df_db) / mb - f / (mb * mb))
        else:  # I = K f(a, b, x) / a
            f, df_da = _fraction(xp, ma, mb, mx, 1.0, 0.0)
            df_db = _fraction(xp, ma, mb, mx, 0.0, 1.0)[1]
            value[mask] = xp.exp(log_k) * f / ma
            dx_da[mask] = -spread * ((dlog_k_da * f + df_da) / ma - f / (ma * ma))
            dx_db[mask] = -spread * (dlog_k_db * f + df_db) / ma
    return value, dx_da, dx_db


def regularized_beta(xp, a, b, x) -> IncompleteBeta:
    """``I_x(a, b)`` with ``dx/da`` and ``dx/db`` at fixed ``I``, for float64 arrays broadcast together; the
    derivatives are 0 at the ends of [0, 1] and everything is NaN outside ``a, b > 0``, ``0 <= x <= 1``."""
    a, b, x = xp.broadcast_arrays(a, b, x)
    value, dx_da, dx_db = (xp.zeros(x.shape, dtype=np.float64) for _ in range(3))
    with quiet_fp_errors(xp):
        interior = (a > 0) & (b > 0) & (x > 0) & (x < 1)
        if bool(interior.any()):
            value[interior], dx_da[interior], dx_db[interior] = _interior(xp, a[interior], b[interior], x[interior])
        value = xp.where(x >= 1, 1.0, value)
        undefined = ~((a > 0) & (b > 0) & (x >= 0) & (x <= 1))
        value, dx_da, dx_db = (xp.where(undefined, xp.nan, v) for v in (value, dx_da, dx_db))
    return IncompleteBeta(value, dx_da, dx_db)
