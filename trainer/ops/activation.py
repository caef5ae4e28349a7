"""Activations beyond the elementwise basics: softmax, log_softmax, gelu, leaky_relu, and dropout."""

from __future__ import annotations

import math

import numpy as np

from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim


class Softmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        xp = xp_of(a)
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        out = e / e.sum(axis=axis, keepdims=True)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return out * (g - (g * out).sum(axis=ctx.axis, keepdims=True))


class LogSoftmax(Function):
    @staticmethod
    def forward(ctx, a, axis):
        out = log_softmax_array(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return g - xp_of(g).exp(out) * g.sum(axis=ctx.axis, keepdims=True)


def log_softmax_array(a, axis):
    xp = xp_of(a)
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def _erf(xp, x):
    """The error function: CuPy and SciPy have fast kernels; plain NumPy falls back to ``math.erf``."""
    if xp is not np:
        import cupyx.scipy.special

        return cupyx.scipy.special.erf(x)
    try:
        from scipy.special import erf
    except ImportError:
        return np.frompyfunc(math.erf, 1, 1)(x).astype(x.dtype)
    return erf(x).astype(x.dtype, copy=False)


class Gelu(Function):
    @staticmethod
    def forward(ctx, a, approximate="none"):
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.approximate = approximate
        if approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)
            return (0.5 * a * (1 + xp.tanh(inner))).astype(a.dtype, copy=False)
        return (0.5 * a * (1 + _erf(xp, a / math.sqrt(2)))).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        if ctx.approximate == "tanh":
            inner = _SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)
            t = xp.tanh(inner)
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * d_inner)
        cdf = 0.5 * (1 + _erf(xp, a / math.sqrt(2)))
        pdf = xp.exp(-0.5 * a * a) / math.sqrt(2 * math.pi)
        return (g * (cdf + a * pdf)).astype(a.dtype, copy=False)


class LeakyRelu(Function):
    @staticmethod
    def forward(ctx, a, negative_slope=0.01):
        ctx.save_for_backward(a)
        ctx.slope = negative_slope
        return xp_of(a).where(a > 0, a, a * negative_slope)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return xp_of(a).where(a > 0, g, g * ctx.slope)


class Dropout(Function):
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``; a ``mask_shape`` that
    broadcasts to the input's drops whole slices (``(N, C, 1, 1)``: whole channels, as ``dropout2d``)."""

    @staticmethod
    def forward(ctx, a, p, generator, mask_shape=None):
        keep = generator.rng.random(a.shape if mask_shape is None else mask_shape, dtype=np.float32) >= p
        ctx.mask = keep * a.dtype.type(1 / (1 - p)) if p < 1 else keep.astype(a.dtype)
        return a * ctx.mask

    @staticmethod
    def backward(ctx, g):
        return g * ctx.mask


def softmax(a, dim=None, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    return Softmax.apply(a, axis=normalize_dim(_implicit_dim(a, dim), a.ndim))


def log_softmax(a, dim=None, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    return LogSoftmax.apply(a, axis=normalize_dim(_implicit_dim(a, dim), a.ndim))


def _implicit_dim(a, dim):
    """PyTorch's legacy rule when ``dim`` is omitted: dim 0 for 0-, 1- and 3-D inputs, else dim 1."""
    if dim is not None:
        return dim
    return 0 if a.ndim in (0, 1, 3) else 1


def gelu(a, approximate="none"):
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh, got {approximate!r}")
    return Gelu.apply(a, approximate=approximate)


def leaky_relu(a, negative_slope=0.01):
    return LeakyRelu.apply(a, negative_slope=negative_slope)


def dropout(a, p=0.5, training=True, generator=None):
    from trainer.random import default_generator

    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return a
    return Dropout.apply(a, p=p, generator=generator or default_generator(a.device))


def dropout2d(a, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of ``(N, C, H, W)`` (or ``(N, C, L)``, as PyTorch reads 3-D input) with probability
    ``p``; ``inplace`` is accepted for PyTorch's signature, the result is always a new tensor."""
    from trainer.random import default_generator

    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if a.ndim < 2:
        raise RuntimeError(f"dropout2d: expected a 3D (N, C, L) or 4D (N, C, H, W) input, got {a.ndim}D input")
    if not training or p == 0:
        return a
    mask_shape = tuple(a.shape[:2]) + (1,) * (a.ndim - 2)
    return Dropout.apply(a, p=p, generator=generator or default_generator(a.device), mask_shape=mask_shape)
