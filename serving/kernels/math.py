"""Arithmetic, elementwise math, matrix products and bitwise kernels."""

from __future__ import annotations

import contextlib
import functools

import ml_dtypes
import numpy as np

from serving.kernels.registry import kernel

_FLT_MAX = float(np.finfo(np.float32).max)
_BFLOAT16 = np.dtype(ml_dtypes.bfloat16)


def is_numpy(xp) -> bool:
    return xp is np


def legacy_broadcast(a, b, broadcast: int, axis: int | None):
    """Opset < 7 binary ops: with ``broadcast=1`` and an ``axis``, B's dims line up with A's from ``axis``."""
    if broadcast and axis is not None and b.ndim:
        axis = axis % a.ndim
        b = b.reshape(b.shape + (1,) * (a.ndim - axis - b.ndim))
    return a, b


def widened(x):
    """Half-precision floats as float32, for computing (NumPy's linalg and einsum reject them, exp overflows)."""
    return x.astype(np.float32) if x.dtype in (np.float16, _BFLOAT16) else x


def quiet(xp):
    """Silence NumPy's floating-point warnings where overflow to inf or 0 is the intended limit."""
    return np.errstate(all="ignore") if is_numpy(xp) else contextlib.nullcontext()


_BLOCK = 1 << 14  # elements: a block of float64 and its few temporaries stay within a core's L2 cache


def elementwise(xp, fn, x):
    """``fn(x)`` for an elementwise formula ``fn``, in x's dtype (half floats computed in float32).

    On NumPy a large ``x`` goes through ``fn`` in cache-sized blocks: a formula of many passes then
    reads and writes main memory once instead of once per pass. The result is the same either way.
    """
    if not is_numpy(xp) or x.size <= 2 * _BLOCK:
        return fn(widened(x)).astype(x.dtype, copy=False)
    flat = x.reshape(-1)
    out = np.empty(flat.shape, dtype=x.dtype)
    for start in range(0, flat.size, _BLOCK):
        out[start:start + _BLOCK] = fn(widened(flat[start:start + _BLOCK]))
    return out.reshape(x.shape)


# Cody (1969), "Rational Chebyshev approximations for the error function": erf on |x| <= 0.46875,
# erfc on 0.46875 < |x| <= 4 and on |x| > 4, each accurate to about 1e-18 in double precision.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02, 3.20937758913846947e03,
          1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01, 2.98635138197400131e02,
           8.81952221241769090e02, 1.71204761263407058e03, 2.05107837782607147e03, 1.23033935479799725e03,
           2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02, 1.62138957456669019e03,
           3.29079923573345963e03, 4.36261909014324716e03, 3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1, 1.60837851487422766e-2,
           6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1, 6.05183413124413191e-2,
           2.33520497626869185e-3)
_SQRT_1_PI = 0.56418958354775628695


def _cody_ratio(t, num, den, lead, degree):
    """Cody's Horner form: ``(((n_last*t + n_0)*t + ...)*t + n_lead) / ((t + d_0)*t + ... + d_lead)``."""
    xnum = num[-1] * t
    xden = t
    for i in range(degree):
        xnum = (xnum + num[i]) * t
        xden = (xden + den[i]) * t
    return (xnum + num[lead]) / (xden + den[lead])


def _exp_neg_square(xp, y):
    # exp(-y*y) split as exp(-r*r) * exp(-(y-r)(y+r)) with r = y rounded down to 1/16: no cancellation.
    r = xp.trunc(y * 16.0) / 16.0
    return xp.exp(-r * r) * xp.exp(-(y - r) * (y + r))


def _cody_erf(xp, x):
    """erf of a float64 array, vectorised over all three of Cody's intervals."""
    y = xp.abs(x)
    near = xp.minimum(y, 0.46875)
    small = x * _cody_ratio(near * near, _ERF_A, _ERF_B, 3, 3)
    mid = xp.clip(y, 0.46875, 4.0)
    erfc_mid = _cody_ratio(mid, _ERFC_C, _ERFC_D, 7, 7) * _exp_neg_square(xp, mid)
    far = xp.clip(y, 4.0, 27.0)  # erfc(27) underflows double precision
    z = 1.0 / (far * far)
    erfc_far = (_SQRT_1_PI - z * _cody_ratio(z, _ERFC_P, _ERFC_Q, 4, 4)) / far * _exp_neg_square(xp, far)
    erfc = xp.where(y <= 4.0, erfc_mid, erfc_far)
    large = xp.copysign((0.5 - erfc) + 0.5, x)
    return xp.where(y <= 0.46875, small, large)


# Single precision: erf(x) = x P(x^2) / Q(x^2) on x clamped to [-4, 4] (the rational approximation of
# Eigen and XLA); evaluated in float64 it is within 2 ulp of float32's erf.
_ERF32_P = (-2.72614225801306e-10, 2.77068142495902e-08, -2.10102402082508e-06, -5.69250639462346e-05,
            -7.34990630326855e-04, -2.95459980854025e-03, -1.60960333262415e-02)
_ERF32_Q = (-1.45660718464996e-05, -2.13374055278905e-04, -1.68282697438203e-03, -7.37332916720468e-03,
            -1.42647390514189e-02)


def _rational_erf(xp, x):
    v = xp.clip(x.astype(np.float64), -4.0, 4.0)
    s = v * v
    p = s * _ERF32_P[0]
    for c in _ERF32_P[1:-1]:
        p += c
        p *= s
    p += _ERF32_P[-1]
    q = s * _ERF32_Q[0]
    for c in _ERF32_Q[1:-1]:
        q += c
        q *= s
    q += _ERF32_Q[-1]
    p *= v
    p /= q
    return p.astype(x.dtype)


def erf(xp, x):
    """The error function of a float array, in its dtype (shared with Gelu); half floats go through float32."""
    if not is_numpy(xp):
        from cupyx.scipy.special import erf as cupy_erf

        return elementwise(xp, cupy_erf, x)
    if x.dtype == np.float64:
        return elementwise(xp, lambda v: _cody_erf(xp, v), x)
    return elementwise(xp, lambda v: _rational_erf(xp, v), x)


@kernel("Add")
def Add(ctx, a, b, *, axis=None, broadcast=0, consumed_inputs=None):
    a, b = legacy_broadcast(a, b, broadcast, axis)
    return ctx.xp.add(a, b)


@kernel("Sub")
def Sub(ctx, a, b, *, axis=None, broadcast=0, consumed_inputs=None):
    a, b = legacy_broadcast(a, b, broadcast, axis)
    return ctx.xp.subtract(a, b)


@kernel("Mul")
def Mul(ctx, a, b, *, axis=None, broadcast=0, consumed_inputs=None):
    a, b = legacy_broadcast(a, b, broadcast, axis)
    return ctx.xp.multiply(a, b)


@kernel("Div")
def Div(ctx, a, b, *, axis=None, broadcast=0, consumed_inputs=None):
    xp = ctx.xp
    a, b = legacy_broadcast(a, b, broadcast, axis)
    if a.dtype.kind == "u":
        return xp.floor_divide(a, b)
    if a.dtype.kind == "i":
        # ONNX integer division truncates toward zero (C); floor division rounds down.
        q = xp.floor_divide(a, b)
        inexact = (xp.remainder(a, b) != 0) & ((a < 0) ^ (b < 0))
        return q + inexact.astype(q.dtype)
    return xp.divide(a, b)


@kernel("Pow")
def Pow(ctx, x, y, *, axis=None, broadcast=0):
    x, y = legacy_broadcast(x, y, broadcast, axis)
    # The result has the base's type whatever the exponent's (int ** float, float ** int64, ...).
    return ctx.xp.power(x, y).astype(x.dtype, copy=False)


@kernel("Mod", since=10)
def Mod(ctx, a, b, *, fmod=0):
    # fmod=0 takes the divisor's sign (Python's %), fmod=1 the dividend's (C's fmod).
    return ctx.xp.fmod(a, b) if fmod else ctx.xp.mod(a, b)


@kernel("Neg")
def Neg(ctx, x, *, consumed_inputs=None):
    return ctx.xp.negative(x)


@kernel("Abs")
def Abs(ctx, x, *, consumed_inputs=None):
    return ctx.xp.abs(x)


@kernel("Reciprocal")
def Reciprocal(ctx, x, *, consumed_inputs=None):
    return ctx.xp.reciprocal(x)


@kernel("Sqrt")
def Sqrt(ctx, x, *, consumed_inputs=None):
    return ctx.xp.sqrt(x)


@kernel("Exp")
def Exp(ctx, x, *, consumed_inputs=None):
    return ctx.xp.exp(x)


@kernel("Log")
def Log(ctx, x, *, consumed_inputs=None):
    return ctx.xp.log(x)


@kernel("Ceil")
def Ceil(ctx, x, *, consumed_inputs=None):
    return ctx.xp.ceil(x)


@kernel("Floor")
def Floor(ctx, x, *, consumed_inputs=None):
    return ctx.xp.floor(x)


@kernel("Round", since=11)
def Round(ctx, x):
    return ctx.xp.round(x)  # halves go to the even neighbour, as ONNX asks


@kernel("Sign", since=9)
def Sign(ctx, x):
    return ctx.xp.sign(x)


@kernel("Erf", since=9)
def Erf(ctx, x):
    if x.dtype.kind in "iu":
        raise ValueError(f"Erf takes a floating-point tensor, got {x.dtype}")
    return erf(ctx.xp, x)


@kernel("Sin", since=7)
def Sin(ctx, x):
    return ctx.xp.sin(x)


@kernel("Cos", since=7)
def Cos(ctx, x):
    return ctx.xp.cos(x)


@kernel("Tan", since=7)
def Tan(ctx, x):
    return ctx.xp.tan(x)


@kernel("Asin", since=7)
def Asin(ctx, x):
    return ctx.xp.arcsin(x)


@kernel("Acos", since=7)
def Acos(ctx, x):
    return ctx.xp.arccos(x)


@kernel("Atan", since=7)
def Atan(ctx, x):
    return ctx.xp.arctan(x)


@kernel("Sinh", since=9)
def Sinh(ctx, x):
    return ctx.xp.sinh(x)


@kernel("Cosh", since=9)
def Cosh(ctx, x):
    return ctx.xp.cosh(x)


@kernel("Asinh", since=9)
def Asinh(ctx, x):
    return ctx.xp.arcsinh(x)


@kernel("Acosh", since=9)
def Acosh(ctx, x):
    return ctx.xp.arccosh(x)


@kernel("Atanh", since=9)
def Atanh(ctx, x):
    return ctx.xp.arctanh(x)


@kernel("Sum")
def Sum(ctx, *xs, consumed_inputs=None):
    return functools.reduce(ctx.xp.add, xs)


@kernel("Mean")
def Mean(ctx, *xs, consumed_inputs=None):
    total = functools.reduce(ctx.xp.add, xs)
    return (total / len(xs)).astype(xs[0].dtype, copy=False)


@kernel("Max")
def Max(ctx, *xs, consumed_inputs=None):
    return functools.reduce(ctx.xp.maximum, xs)


@kernel("Min")
def Min(ctx, *xs, consumed_inputs=None):
    return functools.reduce(ctx.xp.minimum, xs)


@kernel("Clip")
def Clip(ctx, x, low=None, high=None, *, min=None, max=None, consumed_inputs=None):  # noqa: A002
    if ctx.opset < 11:
        # Bounds are attributes; from opset 6 on an absent one defaults to the float32 range.
        default = _FLT_MAX if ctx.opset >= 6 else None
        low = min if min is not None else (-default if default is not None else None)
        high = max if max is not None else default
    xp = ctx.xp
    if low is not None and high is not None:
        return xp.clip(x, low, high)  # low > high gives high everywhere, as ONNX specifies
    if low is not None:
        return xp.maximum(x, low)
    if high is not None:
        return xp.minimum(x, high)
    return x


@kernel("MatMul")
def MatMul(ctx, a, b):
    if a.dtype == _BFLOAT16:
        return ctx.xp.matmul(widened(a), widened(b)).astype(a.dtype)
    return ctx.xp.matmul(a, b)


@kernel("Gemm")
def Gemm(ctx, a, b, c=None, *, alpha=1.0, beta=1.0, transA=0, transB=0, broadcast=0):  # noqa: N803
    xp = ctx.xp
    dtype = a.dtype
    if transA:
        a = a.T
    if transB and a.shape[0] > 1 and is_numpy(xp) and ctx.keeps((1,)):
        # OpenBLAS multiplies by a transposed operand up to 3x slower than by the same matrix stored transposed
        # (a single row is the exception: there the rows of b serve it best).
        b = ctx.prepare("transposed_b", lambda: np.ascontiguousarray(b.T), (1,))
    elif transB:
        b = b.T
    y = xp.matmul(widened(a), widened(b))
    if alpha != 1.0:
        y = y * alpha if dtype.kind in "iu" else xp.multiply(y, alpha, out=y)
    if c is not None and beta != 0.0:
        scaled = c if beta == 1.0 else c * beta
        y = y + scaled if dtype.kind in "iu" else xp.add(y, scaled, out=y)
    return y.astype(dtype, copy=False)


@kernel("Einsum", since=12)
def Einsum(ctx, *xs, equation):
    xp = ctx.xp
    equation = "".join(equation.split())
    dtype = xs[0].dtype
    operands = [widened(x) for x in xs]
    if is_numpy(xp) and len(operands) > 1:
        y = xp.einsum(equation, *operands, optimize=True)
    else:
        y = xp.einsum(equation, *operands)
    return xp.asarray(y).astype(dtype, copy=False)


@kernel("Det", since=11)
def Det(ctx, x):
    if x.ndim < 2 or x.shape[-1] != x.shape[-2]:
        raise ValueError(f"Det takes square matrices in the last two axes, got shape {x.shape}")
    return ctx.xp.linalg.det(widened(x)).astype(x.dtype, copy=False)


@kernel("BitShift", since=11)
def BitShift(ctx, x, y, *, direction):
    xp = ctx.xp
    if direction not in ("LEFT", "RIGHT"):
        raise ValueError(f"BitShift direction must be 'LEFT' or 'RIGHT', got {direction!r}")
    x, y = xp.broadcast_arrays(x, y)
    bits = x.dtype.itemsize * 8
    # Shifts that are negative or not below the width are defined (opset 28) rather than C's UB.
    in_range = (y >= 0) & (y < bits)
    shift = xp.where(in_range, y, 0).astype(x.dtype)
    if direction == "RIGHT":
        shifted = xp.right_shift(x, shift)
        fill = xp.where(x < 0, -1, 0).astype(x.dtype) if x.dtype.kind == "i" else xp.zeros_like(x)
        return xp.where(in_range, shifted, fill)
    unsigned = np.dtype(f"u{x.dtype.itemsize}")
    # Left shifts wrap around: shift the bit pattern as unsigned so signed overflow is well defined.
    shifted = xp.left_shift(x.view(unsigned), shift.view(unsigned)).view(x.dtype)
    return xp.where(in_range, shifted, xp.zeros((), dtype=x.dtype))


@kernel("BitwiseAnd", since=18)
def BitwiseAnd(ctx, a, b):
    return ctx.xp.bitwise_and(a, b)


@kernel("BitwiseOr", since=18)
def BitwiseOr(ctx, a, b):
    return ctx.xp.bitwise_or(a, b)


@kernel("BitwiseXor", since=18)
def BitwiseXor(ctx, a, b):
    return ctx.xp.bitwise_xor(a, b)


@kernel("BitwiseNot", since=18)
def BitwiseNot(ctx, x):
    return ctx.xp.invert(x)
