"""One step of the modified Lentz method (Numerical Recipes 5.2) for a continued fraction
``b0 + a1 / (b1 + a2 / (b2 + ...))``, carrying each quantity's derivative along one direction in the fraction's
parameters, so that the incomplete gamma and beta functions get exact derivatives alongside their values."""

from __future__ import annotations

TINY = 1e-300  # stands in for a zero denominator, as in Numerical Recipes
# a fraction has converged when its factors stay this close to 1: rounding keeps them a few ulps away
TOLERANCE = 2e-15
MAX_TERMS = 100_000  # a backstop: convergence takes about sqrt(a) terms near the transition, a the parameter


def away_from_zero(xp, value, derivative):
    """``value`` moved off zero to ``TINY`` (its derivative then 0), as Lentz's method needs."""
    small = xp.abs(value) < TINY
    return xp.where(small, TINY, value), xp.where(small, 0.0, derivative)


def lentz_step(xp, a, da, b, db, c, dc, d, dd):
    """Advance the Lentz ratios ``c`` and ``d`` (with derivatives ``dc``, ``dd``) by the partial numerator ``a``
    and denominator ``b`` (derivatives ``da``, ``db``); returns them with the factor ``delta = c d`` that multiplies
    the fraction, and its derivative."""
    d, dd = away_from_zero(xp, b + a * d, db + da * d + a * dd)
    c, dc = away_from_zero(xp, b + a / c, db + (da - a * dc / c) / c)
    d, dd = 1 / d, -dd / (d * d)
    return c, dc, d, dd, c * d, dc * d + c * dd
