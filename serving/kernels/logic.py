"""Boolean logic, comparisons, selection and float classification."""

from __future__ import annotations

import numpy as np

from serving.kernels.math import legacy_broadcast
from serving.kernels.registry import kernel


def _host(a):
    """A NumPy view of ``a``: string tensors are host-only, so their operands come back from the device."""
    return a if isinstance(a, np.ndarray) else a.get()


@kernel("And")
def And(ctx, a, b, *, axis=None, broadcast=0):
    return ctx.xp.logical_and(*legacy_broadcast(a, b, broadcast, axis))


@kernel("Or")
def Or(ctx, a, b, *, axis=None, broadcast=0):
    return ctx.xp.logical_or(*legacy_broadcast(a, b, broadcast, axis))


@kernel("Xor")
def Xor(ctx, a, b, *, axis=None, broadcast=0):
    return ctx.xp.logical_xor(*legacy_broadcast(a, b, broadcast, axis))


@kernel("Not")
def Not(ctx, x):
    return ctx.xp.logical_not(x)


@kernel("Equal")
def Equal(ctx, a, b, *, axis=None, broadcast=0):
    a, b = legacy_broadcast(a, b, broadcast, axis)
    if a.dtype == object or b.dtype == object:
        # String tensors live on the host as object arrays of str.
        return np.equal(a, b).astype(bool)
    return ctx.xp.equal(a, b)


@kernel("Greater")
def Greater(ctx, a, b, *, axis=None, broadcast=0):
    return ctx.xp.greater(*legacy_broadcast(a, b, broadcast, axis))


@kernel("GreaterOrEqual", since=12)
def GreaterOrEqual(ctx, a, b):
    return ctx.xp.greater_equal(a, b)


@kernel("Less")
def Less(ctx, a, b, *, axis=None, broadcast=0):
    return ctx.xp.less(*legacy_broadcast(a, b, broadcast, axis))


@kernel("LessOrEqual", since=12)
def LessOrEqual(ctx, a, b):
    return ctx.xp.less_equal(a, b)


@kernel("Where", since=9)
def Where(ctx, condition, x, y):
    if x.dtype == object:
        return np.where(_host(condition), x, y)
    return ctx.xp.where(condition, x, y)


@kernel("IsNaN", since=9)
def IsNaN(ctx, x):
    return ctx.xp.isnan(x)


@kernel("IsInf", since=10)
def IsInf(ctx, x, *, detect_negative=1, detect_positive=1):
    xp = ctx.xp
    if detect_negative and detect_positive:
        return xp.isinf(x)
    if detect_positive:
        return xp.isinf(x) & (x > 0)
    if detect_negative:
        return xp.isinf(x) & (x < 0)
    return xp.zeros(x.shape, dtype=bool)
