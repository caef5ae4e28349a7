"""Activation functions and the softmax family."""

from __future__ import annotations

import math

from serving.kernels.math import erf
from serving.kernels.registry import kernel

_SELU_DEFAULTS = {1: (1.673200011253357, 1.0506999492645264), 6: (1.6732631921768188, 1.0507010221481323)}


def sigmoid(xp, x):
    """1 / (1 + exp(-x)) from one exp of -|x|: no overflow, full relative accuracy in both tails."""
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1, e) / (1 + e)


def softplus(xp, x):
    """log(1 + exp(x)) without overflow for large x."""
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(x, 0)


@kernel("Relu")
def Relu(ctx, x, *, consumed_inputs=None):
    return ctx.xp.maximum(x, x.dtype.type(0))


@kernel("LeakyRelu")
def LeakyRelu(ctx, x, *, alpha=0.01, consumed_inputs=None):
    return ctx.xp.where(x >= 0, x, x * alpha)


@kernel("PRelu")
def PRelu(ctx, x, slope, *, consumed_inputs=None):
    if ctx.opset < 7 and slope.ndim == 1 and x.ndim > 2 and slope.shape[0] == x.shape[1] != x.shape[-1]:
        # Before opset 7 a 1-D slope is per channel (axis 1), not numpy-broadcast along the last axis.
        slope = slope.reshape((-1,) + (1,) * (x.ndim - 2))
    return ctx.xp.where(x >= 0, x, x * slope)


@kernel("Elu")
def Elu(ctx, x, *, alpha=1.0, consumed_inputs=None):
    return ctx.xp.where(x > 0, x, alpha * ctx.xp.expm1(x))


@kernel("Selu")
def Selu(ctx, x, *, alpha=None, gamma=None, consumed_inputs=None):
    # Opset 6 refined the default constants; honour the model's opset when they are left out.
    default_alpha, default_gamma = _SELU_DEFAULTS[6 if ctx.opset >= 6 else 1]
    alpha = default_alpha if alpha is None else alpha
    gamma = default_gamma if gamma is None else gamma
    return gamma * ctx.xp.where(x > 0, x, alpha * ctx.xp.expm1(x))


@kernel("Celu", since=12)
def Celu(ctx, x, *, alpha=1.0):
    xp = ctx.xp
    return xp.maximum(x, 0) + xp.minimum(0, alpha * xp.expm1(x / alpha))


@kernel("Sigmoid")
def Sigmoid(ctx, x, *, consumed_inputs=None):
    return sigmoid(ctx.xp, x)


@kernel("HardSigmoid")
def HardSigmoid(ctx, x, *, alpha=0.2, beta=0.5, consumed_inputs=None):
    return ctx.xp.clip(x * alpha + beta, 0, 1)


@kernel("HardSwish", since=14)
def HardSwish(ctx, x):
    return x * ctx.xp.clip(x * (1 / 6) + 0.5, 0, 1)


@kernel("Tanh")
def Tanh(ctx, x, *, consumed_inputs=None):
    return ctx.xp.tanh(x)


@kernel("Softplus")
def Softplus(ctx, x):
    return softplus(ctx.xp, x)


@kernel("Softsign")
def Softsign(ctx, x):
    return x / (1 + ctx.xp.abs(x))


@kernel("Mish", since=18)
def Mish(ctx, x):
    return x * ctx.xp.tanh(softplus(ctx.xp, x))


@kernel("Swish", since=24)
def Swish(ctx, x, *, alpha=1.0):
    return x * sigmoid(ctx.xp, x * alpha if alpha != 1.0 else x)


@kernel("Gelu", since=20)
def Gelu(ctx, x, *, approximate="none"):
    xp = ctx.xp
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * math.sqrt(2 / math.pi)
        return 0.5 * x * (1 + xp.tanh(inner))
    if approximate != "none":
        raise ValueError(f"Gelu approximate must be 'none' or 'tanh', got {approximate!r}")
    return 0.5 * x * (1 + erf(xp, x * math.sqrt(0.5)))


@kernel("ThresholdedRelu", since=10)
def ThresholdedRelu(ctx, x, *, alpha=1.0):
    return ctx.xp.where(x > alpha, x, x.dtype.type(0))


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
    return a * sigmoid(ctx.xp, a * alpha if alpha != 1.0 else a) * b


def _as_matrix(x, axis):
    """Opset < 13 softmax family: the input seen as 2-D, [prod(shape[:axis]), prod(shape[axis:])]."""
    axis = axis % x.ndim if x.ndim else 0
    rows = math.prod(x.shape[:axis])
    return x.reshape(rows, -1)


def _softmax(xp, x, axis):
    e = xp.exp(x - x.max(axis=axis, keepdims=True))
    e /= e.sum(axis=axis, keepdims=True)
    return e


def _log_softmax(xp, x, axis):
    shifted = x - x.max(axis=axis, keepdims=True)
    shifted -= xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
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
