"""Activations beyond the elementwise basics: softmax, log_softmax, gelu, leaky_relu, the ELU family, softplus,
the hard (piecewise-linear) activations, PReLU, threshold, and dropout."""

from __future__ import annotations

import math

import numpy as np

from trainer.amp import cast_policy
from trainer.autograd.higher_order import graph_tensors
from trainer.autograd.op import Function
from trainer.backend import xp_of
from trainer.ops._operands import normalize_dim
from trainer.ops.bfloat16_opmath import bfloat16_opmath
from trainer.ops.compare import where
from trainer.tensor import Tensor


@bfloat16_opmath
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
        return out * (g - (g * out).sum(ctx.axis, keepdim=True))


@bfloat16_opmath
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

    @staticmethod
    def backward_graph(ctx, g):
        (out,) = graph_tensors(ctx)
        return g - out.exp() * g.sum(ctx.axis, keepdim=True)


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


@bfloat16_opmath
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

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        if ctx.approximate == "tanh":
            t = (_SQRT_2_OVER_PI * (a + 0.044715 * a * a * a)).tanh()
            d_inner = _SQRT_2_OVER_PI * (1 + 3 * 0.044715 * a * a)
            return g * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * d_inner)
        cdf = 0.5 * (1 + (a / math.sqrt(2)).erf())
        pdf = (-0.5 * a * a).exp() / math.sqrt(2 * math.pi)
        return g * (cdf + a * pdf)


@bfloat16_opmath
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

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        return g * Tensor._wrap(xp_of(a).where(a > 0, 1, ctx.slope).astype(a.dtype, copy=False))


@bfloat16_opmath
class Elu(Function):
    """``alpha * (exp(x) - 1)`` below zero, ``x`` above; ``scale`` multiplies both (SELU is a scaled ELU)."""

    @staticmethod
    def forward(ctx, a, alpha=1.0, scale=1.0):
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.alpha, ctx.scale = alpha, scale
        return (scale * xp.where(a > 0, a, alpha * xp.expm1(xp.minimum(a, 0)))).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        return (ctx.scale * g * xp.where(a > 0, 1, ctx.alpha * xp.exp(xp.minimum(a, 0)))).astype(g.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        positive = Tensor._wrap(a._data > 0)
        return ctx.scale * g * where(positive, 1.0, ctx.alpha * a.clamp(max=0).exp())


class Selu(Elu):
    pass


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


@bfloat16_opmath
class Celu(Function):
    @staticmethod
    def forward(ctx, a, alpha=1.0):
        xp = xp_of(a)
        ctx.save_for_backward(a)
        ctx.alpha = alpha
        return xp.where(a > 0, a, alpha * xp.expm1(xp.minimum(a, 0) / alpha)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        return g * xp.where(a > 0, 1, xp.exp(xp.minimum(a, 0) / ctx.alpha)).astype(g.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        positive = Tensor._wrap(a._data > 0)
        return g * where(positive, 1.0, (a.clamp(max=0) / ctx.alpha).exp())


def softplus_array(xp, z):
    """``log(1 + exp(z))`` without overflow."""
    return xp.log1p(xp.exp(-xp.abs(z))) + xp.maximum(z, 0)


def sigmoid_array(xp, z):
    """``1 / (1 + exp(-z))``, split by sign so that ``exp`` never overflows."""
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


@bfloat16_opmath
class Softplus(Function):
    """``log(1 + exp(beta * x)) / beta``, and ``x`` itself where ``beta * x > threshold``."""

    @staticmethod
    def forward(ctx, a, beta=1.0, threshold=20.0):
        xp = xp_of(a)
        z = a * beta
        ctx.save_for_backward(a)
        ctx.beta, ctx.threshold = beta, threshold
        return xp.where(z > threshold, a, softplus_array(xp, z) / beta).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        z = a * ctx.beta
        return xp.where(z > ctx.threshold, g, g * sigmoid_array(xp, z)).astype(g.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        linear = Tensor._wrap(a._data * ctx.beta > ctx.threshold)
        return where(linear, g, g * (a * ctx.beta).sigmoid())


@bfloat16_opmath
class Softsign(Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a / (1 + xp_of(a).abs(a))

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        denominator = 1 + xp_of(a).abs(a)
        return g / (denominator * denominator)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        denominator = 1 + a.abs()
        return g / (denominator * denominator)


class Hardtanh(Function):
    """``clamp(x, min_val, max_val)`` whose gradient passes strictly inside the bounds, as PyTorch's."""

    @staticmethod
    def forward(ctx, a, min_val=-1.0, max_val=1.0):
        ctx.save_for_backward(a)
        ctx.bounds = min_val, max_val
        return xp_of(a).clip(a, min_val, max_val).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        return g * ((a > lo) & (a < hi))

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        lo, hi = ctx.bounds
        return g * Tensor._wrap((a > lo) & (a < hi))


@bfloat16_opmath
class HardSigmoid(Function):
    """``relu6(x + 3) / 6``."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return xp_of(a).clip(a / 6 + 0.5, 0, 1).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * ((a > -3) & (a < 3)) / 6

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        return g * Tensor._wrap((a > -3) & (a < 3)) / 6


@bfloat16_opmath
class HardSwish(Function):
    """``x * relu6(x + 3) / 6``."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * xp_of(a).clip(a + 3, 0, 6) / 6

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        xp = xp_of(a)
        return xp.where(a < -3, 0, xp.where(a <= 3, g * (a / 3 + 0.5), g)).astype(g.dtype, copy=False)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        below, inside = Tensor._wrap(a._data < -3), Tensor._wrap(a._data <= 3)
        return where(below, 0.0, where(inside, g * (a / 3 + 0.5), g))


@bfloat16_opmath
class Silu(Function):
    @staticmethod
    def forward(ctx, a):
        s = sigmoid_array(xp_of(a), a).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, s)
        return a * s

    @staticmethod
    def backward(ctx, g):
        a, s = ctx.saved_tensors
        return g * s * (1 + a * (1 - s))

    @staticmethod
    def backward_graph(ctx, g):
        a, _ = graph_tensors(ctx)
        s = a.sigmoid()
        return g * s * (1 + a * (1 - s))


@bfloat16_opmath
class Mish(Function):
    """``x * tanh(softplus(x))``."""

    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        t = xp.tanh(softplus_array(xp, a)).astype(a.dtype, copy=False)
        ctx.save_for_backward(a, t)
        return a * t

    @staticmethod
    def backward(ctx, g):
        a, t = ctx.saved_tensors
        return g * (t + a * sigmoid_array(xp_of(a), a) * (1 - t * t))

    @staticmethod
    def backward_graph(ctx, g):
        a, _ = graph_tensors(ctx)
        t = softplus(a).tanh()
        return g * (t + a * a.sigmoid() * (1 - t * t))


@bfloat16_opmath
class LogSigmoid(Function):
    @staticmethod
    def forward(ctx, a):
        xp = xp_of(a)
        ctx.save_for_backward(a)
        return (-softplus_array(xp, -a)).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * sigmoid_array(xp_of(a), -a)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = graph_tensors(ctx)
        return g * (-a).sigmoid()


class Threshold(Function):
    """``x`` where ``x > threshold``, else ``value``."""

    @staticmethod
    def forward(ctx, a, threshold, value):
        ctx.save_for_backward(a)
        ctx.threshold = threshold
        return xp_of(a).where(a > threshold, a, value).astype(a.dtype, copy=False)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return g * (a > ctx.threshold)

    @staticmethod
    def backward_graph(ctx, g):
        (a,) = ctx.saved_tensors
        return g * Tensor._wrap(a > ctx.threshold)


class PRelu(Function):
    """``x`` above zero, ``weight * x`` below; ``weight`` has one slope, or one per channel (dim 1)."""

    @staticmethod
    def forward(ctx, a, weight):
        slope = _channel_view(weight, a.ndim)
        ctx.save_for_backward(a, slope, weight)  # weight: what a create_graph backward differentiates slope by
        ctx.weight_shape = weight.shape
        return xp_of(a).where(a > 0, a, slope * a)

    @staticmethod
    def backward(ctx, g):
        a, slope, _ = ctx.saved_tensors
        xp = xp_of(a)
        need_a, need_weight = ctx.needs_input_grad
        ga = xp.where(a > 0, g, g * slope) if need_a else None
        gw = None
        if need_weight:
            per_element = xp.where(a > 0, 0, g * a)
            axes = tuple(i for i in range(a.ndim) if i != 1) if slope.size > 1 else None
            gw = per_element.sum(axis=axes).reshape(ctx.weight_shape)
        return ga, gw

    @staticmethod
    def backward_graph(ctx, g):
        a, slope, weight = graph_tensors(ctx)
        need_a, need_weight = ctx.needs_input_grad
        positive = Tensor._wrap(a._data > 0)
        ga = where(positive, g, g * weight.reshape(slope.shape)) if need_a else None
        gw = None
        if need_weight:
            per_element = where(positive, 0.0, g * a)
            dims = tuple(i for i in range(a.ndim) if i != 1) if slope.numel() > 1 else tuple(range(a.ndim))
            gw = per_element.sum(dims).reshape(ctx.weight_shape)
        return ga, gw


def _channel_view(weight, ndim):
    """A per-channel weight shaped to broadcast along dim 1 of an ``ndim``-D input."""
    if weight.size == 1:
        return weight.reshape(())
    return weight.reshape((-1,) + (1,) * (ndim - 2))


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

    @staticmethod
    def backward_graph(ctx, g):
        return g * Tensor._wrap(ctx.mask)


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


def elu(a, alpha=1.0):
    return Elu.apply(a, alpha=float(alpha))


def selu(a):
    return Selu.apply(a, alpha=SELU_ALPHA, scale=SELU_SCALE)


def celu(a, alpha=1.0):
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError: celu's alpha must not be 0")
    return Celu.apply(a, alpha=float(alpha))


def softplus(a, beta=1.0, threshold=20.0):
    return Softplus.apply(a, beta=float(beta), threshold=float(threshold))


def softsign(a):
    return Softsign.apply(a)


def hardtanh(a, min_val=-1.0, max_val=1.0):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return Hardtanh.apply(a, min_val=min_val, max_val=max_val)


def relu6(a):
    return Hardtanh.apply(a, min_val=0.0, max_val=6.0)


def hardsigmoid(a):
    return HardSigmoid.apply(a)


def hardswish(a):
    return HardSwish.apply(a)


def silu(a):
    return Silu.apply(a)


def mish(a):
    return Mish.apply(a)


def logsigmoid(a):
    return LogSigmoid.apply(a)


def threshold(a, threshold, value):
    return Threshold.apply(a, threshold=threshold, value=value)


@cast_policy.lower_precision_fp
def prelu(a, weight):
    channels = a.shape[1] if a.ndim >= 2 else 1
    if weight.numel() not in (1, channels):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {channels}.")
    if weight.ndim > 1:
        raise RuntimeError(f"prelu: expected a weight of 0 or 1 dimensions, got {weight.ndim}")
    return PRelu.apply(a, weight.to(a.dtype))


def glu(a, dim=-1):
    from trainer.ops.join import chunk

    if a.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    axis = normalize_dim(dim, a.ndim)
    if a.shape[axis] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {axis} is size {a.shape[axis]}")
    first, second = chunk(a, 2, axis)
    return first * second.sigmoid()


def softmin(a, dim=None, dtype=None):
    if dtype is not None:
        a = a.to(dtype)
    return softmax(-a, dim)


def dropout(a, p=0.5, training=True, generator=None):
    from trainer.random import device_generator

    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return a
    return Dropout.apply(a, p=p, generator=generator or device_generator(a.device))


def dropout2d(a, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of ``(N, C, H, W)`` (or ``(N, C, L)``, as PyTorch reads 3-D input) with probability
    ``p``; ``inplace`` is accepted for PyTorch's signature, the result is always a new tensor."""
    if a.ndim < 2:
        raise RuntimeError(f"dropout2d: expected a 3D (N, C, L) or 4D (N, C, H, W) input, got {a.ndim}D input")
    return _channel_dropout(a, p, training, generator, channel_axis=1)


def dropout1d(a, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of ``(N, C, L)`` or unbatched ``(C, L)`` input with probability ``p``."""
    if a.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {a.ndim}D input. Note that "
                           "dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, a "
                           "channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _channel_dropout(a, p, training, generator, channel_axis=a.ndim - 2)


def dropout3d(a, p=0.5, training=True, inplace=False, generator=None):
    """Zero whole channels of ``(N, C, D, H, W)`` or unbatched ``(C, D, H, W)`` input with probability ``p``."""
    if a.ndim not in (4, 5):
        raise RuntimeError(f"dropout3d: Expected 4D or 5D input, but received a {a.ndim}D input. Note that "
                           "dropout3d exists to provide channel-wise dropout on inputs with 3 spatial dimensions, a "
                           "channel dimension, and an optional batch dimension (i.e. 4D or 5D inputs).")
    return _channel_dropout(a, p, training, generator, channel_axis=a.ndim - 4)


def _channel_dropout(a, p, training, generator, channel_axis):
    """Dropout with one draw per channel: the mask keeps the dims up to ``channel_axis`` and is 1 elsewhere."""
    from trainer.random import device_generator

    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0:
        return a
    mask_shape = tuple(a.shape[:channel_axis + 1]) + (1,) * (a.ndim - channel_axis - 1)
    return Dropout.apply(a, p=p, generator=generator or device_generator(a.device), mask_shape=mask_shape)
