"""Activation functions and the softmax family."""

from __future__ import annotations

import functools
import math

import numpy as np

from serving.kernels.math import elementwise, erf, quiet
from serving.kernels.registry import kernel

_SELU_DEFAULTS = {1: (1.673200011253357, 1.0506999492645264), 6: (1.6732631921768188, 1.0507010221481323)}
_SQRT_2_PI = math.sqrt(2 / math.pi)

# Formulas avoid xp.where on data-dependent masks: on NumPy it branches per element and runs
# several times slower than the arithmetic (maximum, minimum, clip) that gives the same values.


def sigmoid(xp, x):
    """1 / (1 + exp(-x)): exp overflowing to inf for very negative x gives the right limit, 0."""
    with quiet(xp):
        y = xp.exp(-x)
        y += 1
        return xp.reciprocal(y, out=y)


def softplus(xp, x):
    """log(1 + exp(x)) without overflow for large x."""
    y = xp.log1p(xp.exp(-xp.abs(x)))
    y += xp.maximum(x, 0)
    return y


def _elu(xp, x, alpha):
    """x for x > 0, alpha * (exp(x) - 1) otherwise."""
    y = xp.expm1(xp.minimum(x, 0))
    y *= alpha
    y += xp.maximum(x, 0)
    return y


_ZERO_BLOCK = 1 << 14  # elements: long enough that the loop per row is negligible, small enough to stay in L1/L2


@functools.cache
def _zeros(dtype) -> np.ndarray:
    zeros = np.zeros(_ZERO_BLOCK, dtype)
    zeros.flags.writeable = False
    return zeros


def relu(xp, x, out):
    """max(x, 0) into ``out`` (``x`` itself for in place). NumPy's maximum against a scalar runs 3-5x
    slower than against an array, so contiguous float arrays are taken as rows of a cached block of zeros.
    NaN stays NaN, as maximum propagates it."""
    if xp is not np or x.dtype.kind != "f" or not (x.flags.c_contiguous and out.flags.c_contiguous):
        return xp.maximum(x, x.dtype.type(0), out=out)
    zeros, source, target = _zeros(x.dtype), x.reshape(-1), out.reshape(-1)
    whole = source.size - source.size % _ZERO_BLOCK
    if whole:
        np.maximum(source[:whole].reshape(-1, _ZERO_BLOCK), zeros, out=target[:whole].reshape(-1, _ZERO_BLOCK))
    if whole < source.size:
        np.maximum(source[whole:], zeros[: source.size - whole], out=target[whole:])
    return out


@kernel("Relu")
def Relu(ctx, x, *, consumed_inputs=None):
    return relu(ctx.xp, x, ctx.empty(x.shape, x.dtype))


@kernel("LeakyRelu")
def LeakyRelu(ctx, x, *, alpha=0.01, consumed_inputs=None):
    xp = ctx.xp
    if 0 <= alpha <= 1:
        return elementwise(xp, lambda v: xp.maximum(v, v * alpha), x)
    return elementwise(xp, lambda v: xp.maximum(v, 0) + xp.minimum(v, 0) * alpha, x)


@kernel("PRelu")
def PRelu(ctx, x, slope, *, consumed_inputs=None):
    xp = ctx.xp
    if ctx.opset < 7 and slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] != x.shape[-1]:
        # Before opset 7 a 1-D slope is per channel (axis 1), not numpy-broadcast along the last axis.
        slope = slope.reshape((-1,) + (1,) * (x.ndim - 2))
    y = xp.minimum(x, 0) * slope
    y += xp.maximum(x, 0)
    return y


@kernel("Elu")
def Elu(ctx, x, *, alpha=1.0, consumed_inputs=None):
    return elementwise(ctx.xp, lambda v: _elu(ctx.xp, v, alpha), x)


@kernel("Selu")
def Selu(ctx, x, *, alpha=None, gamma=None, consumed_inputs=None):
    # Opset 6 refined the default constants; honour the model's opset when they are left out.
    default_alpha, default_gamma = _SELU_DEFAULTS[6 if ctx.opset >= 6 else 1]
    alpha = default_alpha if alpha is None else alpha
    gamma = default_gamma if gamma is None else gamma
    return elementwise(ctx.xp, lambda v: _elu(ctx.xp, v, alpha) * gamma, x)


@kernel("Celu", since=12)
def Celu(ctx, x, *, alpha=1.0):
    xp = ctx.xp

    def celu(v):
        y = xp.expm1(xp.minimum(v, 0) / alpha)
        y *= alpha
        y += xp.maximum(v, 0)
        return y

    return elementwise(xp, celu, x)


@kernel("Sigmoid")
def Sigmoid(ctx, x, *, consumed_inputs=None):
    return elementwise(ctx.xp, lambda v: sigmoid(ctx.xp, v), x)


def _hard_sigmoid(xp, x, alpha, beta):
    y = x * alpha
    y += beta
    return xp.clip(y, 0, 1, out=y)


@kernel("HardSigmoid")
def HardSigmoid(ctx, x, *, alpha=0.2, beta=0.5, consumed_inputs=None):
    return elementwise(ctx.xp, lambda v: _hard_sigmoid(ctx.xp, v, alpha, beta), x)


@kernel("HardSwish", since=14)
def HardSwish(ctx, x):
    return elementwise(ctx.xp, lambda v: _hard_sigmoid(ctx.xp, v, 1 / 6, 0.5) * v, x)


@kernel("Tanh")
def Tanh(ctx, x, *, consumed_inputs=None):
    return ctx.xp.tanh(x)


@kernel("Softplus")
def Softplus(ctx, x):
    return elementwise(ctx.xp, lambda v: softplus(ctx.xp, v), x)


@kernel("Softsign")
def Softsign(ctx, x):
    return elementwise(ctx.xp, lambda v: v / (ctx.xp.abs(v) + 1), x)


@kernel("Mish", since=18)
def Mish(ctx, x):
    return elementwise(ctx.xp, lambda v: ctx.xp.tanh(softplus(ctx.xp, v)) * v, x)


@kernel("Swish", since=24)
def Swish(ctx, x, *, alpha=1.0):
    return elementwise(ctx.xp, lambda v: sigmoid(ctx.xp, v * alpha if alpha != 1.0 else v) * v, x)


def _gelu_tanh(xp, x):
    """0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))."""
    y = x * x
    y *= 0.044715 * _SQRT_2_PI
    y += _SQRT_2_PI
    y *= x
    xp.tanh(y, out=y)
    y += 1
    y *= x
    y *= 0.5
    return y


def _gelu_erf(xp, x):
    """0.5 x (1 + erf(x / sqrt(2)))."""
    y = erf(xp, x * math.sqrt(0.5))
    y += 1
    y *= x
    y *= 0.5
    return y


@kernel("Gelu", since=20)
def Gelu(ctx, x, *, approximate="none"):
    xp = ctx.xp
    if approximate == "tanh":
        return elementwise(xp, lambda v: _gelu_tanh(xp, v), x)
    if approximate != "none":
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return elementwise(xp, lambda v: _gelu_erf(xp, v), x)


@kernel("ThresholdedRelu", since=10)
def ThresholdedRelu(ctx, x, *, alpha=1.0):
    return elementwise(ctx.xp, lambda v: v * (v > alpha), x)


@kernel("Shrink", since=9)
def Shrink(ctx, x, *, bias=0.0, lambd=0.5):
    xp = ctx.xp
    y = xp.where(x < -lambd, x + bias, xp.where(x > lambd, x - bias, 0))
    return y.astype(x.dtype, copy=False)


@kernel("SwiGLU", since=28)
def SwiGLU(ctx, a, b, *, alpha=1.0):
    if a.shape != b.shape or a.dtype != b.dtype:
        raise ValueError(
            f"SwiGLU needs A and B of one shape and dtype (no broadcasting), got {a.shape} {a.dtype} "
            f"and {b.shape} {b.dtype}"
        )
    xp = ctx.xp
    gate = elementwise(xp, lambda v: sigmoid(xp, v * alpha if alpha != 1.0 else v) * v, a)
    gate *= b
    return gate


def _as_matrix(x, axis):
    """Opset < 13 softmax family: the input seen as 2-D, [prod(shape[:axis]), prod(shape[axis:])]."""
    axis = axis % x.ndim if x.ndim else 0
    rows = math.prod(x.shape[:axis])
    return x.reshape(rows, -1)


# Spread (max - min) of a tensor up to which one shift for the whole tensor replaces the per-row max: exp then
# cannot underflow, and rounding x - max adds a relative error of at most spread * 2**-24 (~1e-6 in float32),
# what a single row spanning that range gets from the per-row shift too.
_GLOBAL_SHIFT_SPREAD = 16.0
_FEW_ROWS = 8  # rows up to which NumPy's own per-row reductions beat the whole-array tricks below
_SHORT_ROW = 32  # row length up to which transposing the rows first makes their max 2-10x faster


def _few_rows(x, axis) -> bool:
    return x.size <= _FEW_ROWS * x.shape[axis]


def _shift(xp, x, axis):
    """The value subtracted before exp: the max per row, or on NumPy one scalar when the spread is small.

    NumPy reduces a short inner axis row by row, several times slower than the rest of the softmax; the
    tensor's max and min are two fast whole-array passes. NaN or inf fail the comparison and keep rows;
    short rows are then transposed first. A tensor of a few rows (a classifier's output at batch 1) is
    reduced per row at once.
    """
    if xp is np and x.dtype in (np.float32, np.float64) and not _few_rows(x, axis):
        top = x.max()
        if top - x.min() < _GLOBAL_SHIFT_SPREAD:
            return top
        if axis in (-1, x.ndim - 1) and x.shape[-1] <= _SHORT_ROW and x.flags.c_contiguous:
            # Rows as columns: the reduction then runs across them, one long elementwise maximum per column.
            columns = np.ascontiguousarray(x.reshape(-1, x.shape[-1]).T)
            return columns.max(axis=0).reshape(*x.shape[:-1], 1)
    return x.max(axis=axis, keepdims=True)


def _row_sum(xp, e, axis):
    """``e.sum(axis, keepdims=True)``; on NumPy a contiguous last axis is summed by BLAS (a matrix-vector
    product), which is much faster than a row-by-row reduction."""
    if (xp is np and axis in (-1, e.ndim - 1) and e.flags.c_contiguous and e.dtype in (np.float32, np.float64)
            and not _few_rows(e, axis)):
        return xp.matmul(e, xp.ones(e.shape[-1], dtype=e.dtype))[..., None]
    return e.sum(axis=axis, keepdims=True)


def _softmax(xp, x, axis):
    e = x - _shift(xp, x, axis)
    xp.exp(e, out=e)
    e /= _row_sum(xp, e, axis)
    return e


def _log_softmax(xp, x, axis):
    shifted = x - _shift(xp, x, axis)
    shifted -= xp.log(_row_sum(xp, xp.exp(shifted), axis))
    return shifted


def _hardmax(xp, x, axis):
    index = xp.expand_dims(xp.argmax(x, axis=axis), axis)
    positions = xp.arange(x.shape[axis]).reshape((-1,) + (1,) * (x.ndim - 1 - axis % x.ndim))
    return (positions == index).astype(x.dtype)


def _per_axis_or_coerced(ctx, fn, x, axis):
    if x.size == 0:
        return x
    if ctx.opset < 13:
        return fn(ctx.xp, _as_matrix(x, axis), 1).reshape(x.shape)
    return fn(ctx.xp, x, axis)


@kernel("Softmax")
def Softmax(ctx, x, *, axis=None):
    return _per_axis_or_coerced(ctx, _softmax, x, _default_axis(ctx, axis))


@kernel("LogSoftmax")
def LogSoftmax(ctx, x, *, axis=None):
    return _per_axis_or_coerced(ctx, _log_softmax, x, _default_axis(ctx, axis))


@kernel("Hardmax")
def Hardmax(ctx, x, *, axis=None):
    return _per_axis_or_coerced(ctx, _hardmax, x, _default_axis(ctx, axis))


def _default_axis(ctx, axis):
    # The default axis moved from 1 (with 2-D coercion) to -1 (per axis) in opset 13.
    if axis is not None:
        return axis
    return -1 if ctx.opset >= 13 else 1
